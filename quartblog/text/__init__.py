"""Text without I/O: Markdown to sanitized HTML (``markdown``), search tokens
(``search``), word counts (``words``), and the one CJK range they share (``cjk``)."""
