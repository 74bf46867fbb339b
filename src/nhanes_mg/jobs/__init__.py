"""The jobs the command line runs, each taking the data-dir lock, staging its output and
committing it whole: ``run`` (:mod:`.run`), ``validate`` (:mod:`.validate`), ``usual-intake``
(:mod:`.usual_intake`); the output folder (:mod:`.outdir`) and the results store
(:mod:`.store`) they share."""
