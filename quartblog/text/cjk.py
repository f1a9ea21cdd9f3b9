"""The one definition of the scripts written without spaces between words: Japanese
kana, CJK ideographs (with Extension A and the supplementary planes B-H and the
compatibility ideographs) and Korean syllables.  Search splits them into n-grams, word
counts count each character as a word."""

# A character class body, for re: f"[{CJK}]".
CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
