"""The study stage: specifications (:mod:`.spec`), the columns and weights they use, the sample
flow and Table 1, the analyses that fit them (:mod:`.analyses`), verdicts and the
specification curve (:mod:`.verdicts`, :mod:`.judge`), E-values, and the validation gallery's
targets (:mod:`.validation`)."""
