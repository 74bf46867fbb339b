"""``python -m nhanes_mg`` runs the command line."""

from nhanes_mg.cli import main

main()
