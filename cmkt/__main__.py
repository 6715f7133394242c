from cmkt.cli import main

main()
