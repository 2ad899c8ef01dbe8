"""The Drive: folders, files, usage."""

from __future__ import annotations

from resolvers.outputs import drive_file_output as drive_file_output
