"""Hugging Face Hub integration: models on ``huggingface_hub.PyTorchModelHubMixin``.

``SafetensorsHubMixin`` keeps the mixin's API (``save_pretrained(dir, push_to_hub=...)``,
``from_pretrained(folder_or_hub_id)``, ``push_to_hub(repo_id)``, model cards) with bitlab's
rules for the files:

- ``config.json`` is the model's own config (``model_type`` plus ``architectures``, the class
  name, as transformers writes it), never the mixin's copy of ``__init__`` arguments;
- weights are safetensors, written atomically: a new folder is filled as a temporary sibling
  and renamed into place, an existing folder (a trainer's checkpoint with other files) has each
  file replaced atomically, weights first; a ``README.md`` model card is added when the folder
  has none (a card written by ``bitlab eval`` is never overwritten); every card bitlab writes
  ends in a mark with a digest of its text (``marked_card``), by which ``is_bitlab_card`` tells
  a card bitlab may replace from one a person wrote or edited;
- ``from_pretrained`` takes a local folder or a Hub repo id (``org/name``, resolved through the
  Hugging Face cache), and every way that can fail ends in one error naming the thing and the fix.

A model class supplies ``hub_config()`` (the config.json object), ``_write_weights(path)`` and
``_load_directory(folder, map_location, overrides)``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from huggingface_hub import (
    ModelCard,
    ModelCardData,
    PyTorchModelHubMixin,
    constants,
    hf_hub_download,
)
from huggingface_hub import errors as hub_errors

from bitswin.errors import BitswinError

REPO_URL = "https://github.com/bitlab-lm/bitlab"
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
_CARD_MARK = "<!-- bitlab model card {digest}: bitlab replaces this file unless it is edited -->"
_CARD_MARK_RE = re.compile(r"\n\n<!-- bitlab model card ([0-9a-f]{16}): [^\n]*-->\n$")
# Keys config.json carries for the Hub beside the model's own config (dropped when loading).
HUB_KEYS = ("architectures", "library_version")
HUB_TAGS = ["bitlab", "bit-level", "tokenizer-free", "masked-language-modeling"]


def hub_metadata(library: str, tag: str) -> dict[str, Any]:
    """The model-card metadata of a bitlab package's models, as the class keywords of a
    ``SafetensorsHubMixin`` subclass: ``class M(SafetensorsHubMixin, **hub_metadata(...))``."""
    return {
        "library_name": library,
        "repo_url": REPO_URL,
        "docs_url": f"{REPO_URL}/tree/main/packages/{library}#readme",
        "license": "apache-2.0",
        "tags": [*HUB_TAGS, tag],
    }


M = TypeVar("M", bound="SafetensorsHubMixin")


def write_model_dir(directory: str | Path, write_files: Callable[[Path], None]) -> Path:
    """Fill ``directory`` with ``write_files(folder)``: a new folder as a whole (temporary
    sibling, then rename), an existing one in place (``write_files`` replaces each file
    atomically). A crash never leaves a half-written model behind."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise BitswinError(f"cannot save the model to '{directory}': it is a file, not a folder")
    if directory.is_dir():
        write_files(directory)
        return directory
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        write_files(tmp)
        os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def _card_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def marked_card(text: str) -> str:
    """A model card's text with bitlab's mark as its last line (a digest of the text above)."""
    body = text.rstrip()
    return f"{body}\n\n{_CARD_MARK.format(digest=_card_digest(body))}\n"


def is_bitlab_card(text: str) -> bool:
    """Whether a README.md is a card bitlab wrote and nobody changed since (its mark's digest
    matches its text): only such a card may be replaced."""
    match = _CARD_MARK_RE.search(text)
    return match is not None and _card_digest(text[: match.start()]) == match.group(1)


def write_atomic(path: str | Path, write: Callable[[str], None]) -> None:
    """``write(tmp_path)`` fills a temporary sibling of ``path``, which then replaces ``path``:
    a reader sees the old file or the new one, never half of one. The one atomic-file primitive
    of bitlab's packages (bittrain.fileio builds its JSON, text and tensor writers on it).

    The temporary file is not created beforehand (mkstemp would make it 0600): ``write``
    creates it, so it gets the mode any new file gets (0666 less the umask)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = str(path.with_name(f".{path.name}-{os.getpid()}-{secrets.token_hex(6)}{path.suffix}"))
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text_atomic(path: str | Path, text: str) -> None:
    write_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def _looks_like_a_path(name: str) -> bool:
    return (
        name.startswith((".", "/", "~"))
        or os.sep in name.strip(os.sep).replace("/", "", 1)
        or os.path.exists(name)
    )


def resolve_pretrained(
    model_id: str | Path,
    filenames: tuple[str, ...],
    *,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    force_download: bool = False,
    token: str | bool | None = None,
    local_files_only: bool = False,
    error: type[Exception] = BitswinError,
) -> Path:
    """The local folder holding ``filenames`` of ``model_id``: the folder itself, or the Hub
    repo's snapshot in the Hugging Face cache (downloaded unless offline / local_files_only)."""
    name = str(model_id)
    if os.path.isdir(name):
        return Path(name)
    if _looks_like_a_path(name) or not name.strip():
        what = "a file, not a folder" if os.path.isfile(name) else "not a folder"
        raise error(
            f"'{name}' is {what}: pass a folder written by save_pretrained (e.g. RUN/model) "
            "or a Hugging Face Hub repo id such as 'org/name'"
        )
    folder: Path | None = None
    for filename in filenames:
        try:
            path = hf_hub_download(
                repo_id=name,
                filename=filename,
                revision=revision,
                cache_dir=cache_dir,
                force_download=force_download,
                token=token,
                local_files_only=local_files_only,
            )
        except hub_errors.HFValidationError as exc:
            raise error(
                f"'{name}' is neither a local folder nor a valid Hub repo id ({exc}): pass a "
                "folder written by save_pretrained or 'org/name'"
            ) from exc
        except hub_errors.LocalEntryNotFoundError as exc:
            offline = constants.is_offline_mode()
            if offline or local_files_only:
                why = "HF_HUB_OFFLINE is set" if offline else "local_files_only"
                raise error(
                    f"Hub model '{name}' ({filename}) is not in the local Hugging Face cache "
                    f"and {why} forbids downloading it: download it once with network access "
                    "(unset HF_HUB_OFFLINE), or pass a local folder written by save_pretrained"
                ) from exc
            raise error(
                f"cannot download {filename} of Hub model '{name}' (no connection?) and it is "
                "not in the local cache: check the network, or pass a local folder"
            ) from exc
        except hub_errors.RepositoryNotFoundError as exc:
            raise error(
                f"no folder '{name}' here and no Hub model repo '{name}' (or it is private: "
                "log in with `hf auth login`): check the name or the path"
            ) from exc
        except hub_errors.RevisionNotFoundError as exc:
            raise error(f"Hub model '{name}' has no revision {revision!r}: check it") from exc
        except hub_errors.EntryNotFoundError as exc:
            raise error(
                f"Hub model '{name}' has no {filename}: it was not saved by save_pretrained "
                "of this library"
            ) from exc
        except hub_errors.HfHubHTTPError as exc:
            raise error(f"the Hub refused {filename} of '{name}': {exc}") from exc
        folder = Path(path).parent
    assert folder is not None
    return folder


def read_config_json(
    directory: Path, error: type[Exception] = BitswinError, *, drop_hub_keys: bool = True
) -> dict[str, Any]:
    """config.json of a model folder as a dict, without the Hub's own keys (HUB_KEYS) unless
    ``drop_hub_keys=False`` (e.g. to tell a transformers folder by its ``architectures``)."""
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise error(f"no model config at '{path}': pass a folder written by save_pretrained")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"model config '{path}' is unreadable or not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise error(f"model config '{path}' is not a JSON object: re-save the model")
    return {k: v for k, v in data.items() if not (drop_hub_keys and k in HUB_KEYS)}


class SafetensorsHubMixin(PyTorchModelHubMixin):
    """PyTorchModelHubMixin with bitlab's file rules (see the module doc)."""

    _hub_error: ClassVar[type[Exception]] = BitswinError
    _hub_files: ClassVar[tuple[str, ...]] = (CONFIG_NAME, WEIGHTS_NAME)  # what loading reads
    _hub_version: ClassVar[str] = ""

    # -- what a model class supplies ---------------------------------------------------------
    def hub_config(self) -> dict[str, Any]:
        """The model's config as a JSON object with ``model_type`` (for config.json)."""
        raise NotImplementedError

    def _write_weights(self, path: Path) -> None:
        """Write the safetensors weights to ``path`` (the caller renames it into place)."""
        raise NotImplementedError

    @classmethod
    def _load_directory(cls: type[M], directory: Path, map_location: Any, overrides: dict) -> M:
        raise NotImplementedError

    # -- saving ------------------------------------------------------------------------------
    def config_json(self) -> dict[str, Any]:
        data = {"architectures": [type(self).__name__], **self.hub_config()}
        if self._hub_version:
            data["library_version"] = self._hub_version
        return data

    def _save_pretrained(self, save_directory: Path) -> None:
        """Weights first, then config.json, each atomically (the mixin's hook)."""
        save_directory = Path(save_directory)
        write_atomic(save_directory / WEIGHTS_NAME, lambda tmp: self._write_weights(Path(tmp)))
        text = json.dumps(self.config_json(), indent=2, sort_keys=True) + "\n"
        write_text_atomic(save_directory / CONFIG_NAME, text)

    def save_pretrained(
        self,
        save_directory: str | Path,
        *,
        config: Any = None,
        repo_id: str | None = None,
        push_to_hub: bool = False,
        model_card_kwargs: dict[str, Any] | None = None,
        **push_to_hub_kwargs: Any,
    ) -> Any:
        """config.json + model.safetensors (+ README.md when absent), atomically. Returns the
        folder, or the commit URL with ``push_to_hub=True`` (then ``repo_id`` defaults to the
        folder's name)."""
        if config is not None:
            raise self._hub_error(
                f"save_pretrained(config=...): a {type(self).__name__} saves its own config; "
                "build the model with the config you want saved"
            )
        card_kwargs = model_card_kwargs or {}

        def write(folder: Path) -> None:
            self._save_pretrained(folder)
            if not (folder / CARD_NAME).exists():
                card = str(self.generate_model_card(**card_kwargs))
                write_text_atomic(folder / CARD_NAME, marked_card(card))

        folder = write_model_dir(save_directory, write)
        if push_to_hub:
            return self.push_to_hub(
                repo_id or folder.name, model_card_kwargs=model_card_kwargs, **push_to_hub_kwargs
            )
        return folder

    def generate_model_card(self, *args: Any, **kwargs: Any) -> ModelCard:
        """A short card: what the model is, how to load it, its config. ``bitlab eval`` writes
        the full one (data, metrics, provenance) into a run's model folder."""
        info = self._hub_mixin_info
        data = ModelCardData(**info.model_card_data.to_dict())
        name = type(self).__name__
        library = data.library_name or "bitswin"
        repo = kwargs.get("repo_id") or "path/to/this/folder"
        config = self.hub_config()
        params = sum(p.numel() for p in self.parameters()) if hasattr(self, "parameters") else 0
        settings = "".join(
            f"- `{key}`: `{json.dumps(value)}`\n"
            for key, value in sorted(config.items())
            if key != "model_type"
        )
        body = (
            f"# {name} ({config.get('model_type', '')})\n\n"
            f"A model of [bitlab]({info.repo_url or REPO_URL}), saved with `{library}`'s "
            f"`save_pretrained` ({params:,} parameters).\n\n"
            "```python\n"
            f"from {library} import {name}\n\n"
            f'model = {name}.from_pretrained("{repo}")\n'
            "```\n\n"
            f"## Config (config.json)\n\n{settings}"
        )
        return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}")

    # -- loading -----------------------------------------------------------------------------
    @classmethod
    def from_pretrained(  # type: ignore[override]
        cls: type[M],
        pretrained_model_name_or_path: str | Path,
        map_location: Any = "cpu",
        *,
        force_download: bool = False,
        token: str | bool | None = None,
        cache_dir: str | Path | None = None,
        local_files_only: bool = False,
        revision: str | None = None,
        **overrides: Any,
    ) -> M:
        """Load a folder written by save_pretrained, or a Hub repo id (``org/name``; honours
        HF_HUB_OFFLINE). ``overrides`` replace config fields. The model comes back in eval
        mode (as PyTorchModelHubMixin does): call ``.train()`` to fine-tune it."""
        return cls._from_pretrained(
            model_id=str(pretrained_model_name_or_path),
            revision=revision,
            cache_dir=cache_dir,
            force_download=force_download,
            local_files_only=local_files_only,
            token=token,
            map_location=map_location,
            **overrides,
        )

    @classmethod
    def _from_pretrained(  # type: ignore[override]
        cls: type[M],
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        map_location: Any = "cpu",
        **overrides: Any,
    ) -> M:
        folder = resolve_pretrained(
            model_id,
            cls._hub_files,
            revision=revision,
            cache_dir=cache_dir,
            force_download=force_download,
            token=token,
            local_files_only=local_files_only,
            error=cls._hub_error,
        )
        model = cls._load_directory(folder, map_location, overrides)
        model.eval()  # type: ignore[attr-defined]
        return model
