"""The data stage: which NHANES files exist (:mod:`.catalog`), getting them from CDC or a mirror
(:mod:`.fetch`), reading them checked and cached (:mod:`.read`), and the data-dir lock
(:mod:`.lock`). Nothing here knows what the study derives from the files."""
