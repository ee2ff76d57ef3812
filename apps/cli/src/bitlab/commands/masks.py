"""`bitlab masks show --text "..." --epoch N`: what the model is asked, level by level, in colour.

Each byte of the text is drawn as a cell: the character it starts, its hex value and its 8 bits.
Bits hidden from the model are '_'; the colour says which level hid them (legend below), and a
'|' marks where a unit (word / phrase building block) starts.
"""

from __future__ import annotations

from typing import Any

import typer

from bitlab.commands import command_group
from bitlab.errors import UserError
from bitlab.output import emit

# Colour of each level (background for bytes, foreground for hidden bits); the highest level
# that hides a byte wins its colour.
LEVEL_STYLES: dict[str, str] = {
    "bit": "bold yellow",
    "byte": "bold white on red",
    "word": "bold white on green",
    "phrase": "bold white on blue",
}
REPLACED_STYLE = "bold black on magenta"
CELL = 9  # columns per byte: 8 bits and a space


def _char_labels(data: bytes) -> list[str]:
    """Per byte: the character it starts (printable form), '' for continuation bytes."""
    import numpy as np
    from bitcodec import Utf8Role, utf8_roles

    roles = utf8_roles(np.frombuffer(data, dtype=np.uint8))
    labels = [""] * len(data)
    i = 0
    while i < len(data):
        role = int(roles[i])
        size = {Utf8Role.LEAD2: 2, Utf8Role.LEAD3: 3, Utf8Role.LEAD4: 4}.get(role, 1)
        if role == Utf8Role.INVALID:
            labels[i] = "\N{REPLACEMENT CHARACTER}"
        else:
            ch = data[i : i + size].decode("utf-8")
            labels[i] = {" ": "\N{OPEN BOX}", "\n": "\\n", "\t": "\\t"}.get(ch, ch)
            if not ch.isprintable() and ch not in " \n\t":
                labels[i] = f"U+{ord(ch):04X}"
        i += size
    return labels


def build_view(
    text: str,
    *,
    epoch: float | None,
    step: int | None,
    total_steps: int | None,
    seed: int,
    boundaries: str,
    replace: float,
) -> dict[str, Any]:
    """Masks of one text as plain lists (the JSON result; the renderer draws it)."""
    import torch
    from bitmask import CorruptionConfig, MaskConfig, make_masks

    data = text.encode("utf-8")
    if not data:
        raise UserError("--text is empty: give some text to mask, e.g. --text 'hello world'")
    if total_steps is not None:
        if step is None:
            raise UserError("--total-steps needs --step: give the step to show, e.g. --step 500")
        config = MaskConfig.for_steps(total_steps, boundaries=boundaries)
    else:
        config = MaskConfig(boundaries=boundaries)
        if epoch is None:
            raise UserError("give --epoch N (or --step S with --total-steps T)")
    corruption = CorruptionConfig(replace_rate=replace) if replace > 0 else None
    tensor = torch.tensor(list(data), dtype=torch.uint8)[None]  # [1, L]
    out = make_masks(tensor, config, epoch=epoch, step=step, seed=seed, corruption=corruption)
    levels = {
        "bit": out.mask_bit[0].reshape(-1, 8).tolist(),  # [L][8]
        "byte": out.mask_byte[0].tolist(),
        "word": out.mask_word[0].tolist(),
        "phrase": out.mask_phrase[0].tolist(),
    }
    return {
        "text": text,
        "epoch": epoch,
        "step": step,
        "total_steps": total_steps,
        "seed": seed,
        "boundaries": boundaries,
        "phase": out.phase,
        "rates": out.rates,
        "bytes": list(data),
        "chars": _char_labels(data),
        "input_ids": out.input_ids[0].reshape(-1, 8).tolist(),  # [L][8] in {0, 1, MASK, PAD}
        "masks": levels,
        "unit_start": out.unit_start[0].tolist(),
        "replaced": out.replaced[0].tolist(),
        "hidden_bits": int(out.hidden_bits.sum()),
        "hidden_bytes": int(out.hidden_bytes.sum()),
    }


def _byte_style(view: dict[str, Any], j: int) -> str:
    for level in ("phrase", "word", "byte"):
        if view["masks"][level][j]:
            return LEVEL_STYLES[level]
    return REPLACED_STYLE if view["replaced"][j] else ""


def _render(view: dict[str, Any]):
    def render(console) -> None:
        from bitmask import MASK_ID, PHASE_NAMES
        from rich.text import Text

        masks = view["masks"]
        when = (
            f"step {view['step']} of {view['total_steps']}"
            if view["total_steps"] is not None
            else f"epoch {view['epoch']}"
        )
        console.print(
            Text.assemble(
                ("masks ", "bold"),
                f"{when}, phase {view['phase']} ({PHASE_NAMES[view['phase']]}), ",
                f"seed {view['seed']}, units from {view['boundaries']}",
            )
        )
        per_line = max(1, (console.width - 1) // CELL)
        n = len(view["bytes"])
        for begin in range(0, n, per_line):
            chars, hexes, bits = Text(), Text(), Text()
            for j in range(begin, min(begin + per_line, n)):
                unit = "|" if view["unit_start"][j] else " "
                style = _byte_style(view, j)
                label = view["chars"][j]
                chars.append(unit, style="dim")
                chars.append(label, style="bold")
                pad = CELL - 1 - console.measure(Text(label)).maximum if label else CELL - 1
                chars.append(" " * max(pad, 1))
                hexes.append(" ")
                hexes.append(f"{view['bytes'][j]:02x}", style=style)
                hexes.append(" " * (CELL - 3))
                for k, ident in enumerate(view["input_ids"][j]):
                    if ident == MASK_ID:
                        hidden_by_bit = masks["bit"][j][k] and not style.startswith("bold white")
                        bits.append("_", style=LEVEL_STYLES["bit"] if hidden_by_bit else style)
                    else:
                        bits.append(str(ident), style=REPLACED_STYLE if view["replaced"][j] else "")
                bits.append(" ")
            console.print(chars, no_wrap=True, overflow="ignore")
            console.print(hexes, no_wrap=True, overflow="ignore")
            console.print(bits, no_wrap=True, overflow="ignore")
            console.print()
        legend = Text("legend: ")
        for level in ("bit", "byte", "word", "phrase"):
            rate = view["rates"][level]
            count = sum(sum(row) for row in masks["bit"]) if level == "bit" else sum(masks[level])
            unit = "bits" if level == "bit" else "bytes"
            state = f"{rate:.0%}, {count} {unit}" if rate > 0 else "off"
            legend.append(f" {level} ", style=LEVEL_STYLES[level])
            legend.append(f" {state}   ")
        if any(view["replaced"]):
            legend.append(" replaced ", style=REPLACED_STYLE)
            legend.append(f" {sum(view['replaced'])} bytes   ")
        legend.append("_ = hidden bit, | = unit start", style="dim")
        console.print(legend)

    return render


def register(app: typer.Typer) -> None:
    masks_app = command_group(
        "Look at the multi-level masks (bit, byte, word, phrase) the model trains on."
    )

    @masks_app.command("show")
    def show(
        text: str = typer.Option(..., "--text", help="Text to mask (any language; UTF-8)."),
        epoch: float | None = typer.Option(
            None,
            "--epoch",
            help="Curriculum epoch (levels: bit; +byte from 5; +word 15; +phrase 30).",
        ),
        step: int | None = typer.Option(None, "--step", help="Step, with --total-steps."),
        total_steps: int | None = typer.Option(
            None, "--total-steps", help="Compress the 100-epoch curriculum into this many steps."
        ),
        seed: int = typer.Option(0, "--seed", help="Mask seed (same seed, same masks)."),
        boundaries: str = typer.Option(
            "whitespace", "--boundaries", help="Units from 'whitespace' or 'class' changes."
        ),
        replace: float = typer.Option(
            0.0, "--replace", help="Fraction of visible bytes replaced (contrastive task)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the masks as JSON."),
    ) -> None:
        """Render a text's bytes and bits with each level's masks in its own colour."""
        if boundaries not in ("whitespace", "class"):
            raise UserError(f"--boundaries {boundaries!r}: use 'whitespace' or 'class'")
        if total_steps is None and step is not None and epoch is None:
            raise UserError("--step needs --total-steps T (or use --epoch N)")
        view = build_view(
            text,
            epoch=epoch if total_steps is None else None,
            step=step,
            total_steps=total_steps,
            seed=seed,
            boundaries=boundaries,
            replace=replace,
        )
        emit(view, as_json, _render(view))

    app.add_typer(masks_app, name="masks")
