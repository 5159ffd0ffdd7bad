from outcomedesk.cli import main

main()
