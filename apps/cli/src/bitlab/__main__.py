from bitlab.main import run

run()
