"""The arq worker and the job pipeline; the only package that names arq."""
