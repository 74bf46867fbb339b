"""The report stage: figures (:mod:`.figures`), the markdown and HTML report
(:mod:`.document`) and the validation gallery's figure and section."""
