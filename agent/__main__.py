from segmint.agent.cli import main

main()
