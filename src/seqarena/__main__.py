from seqarena.cli import main

main()
