from regionkit.cli import main

main()
