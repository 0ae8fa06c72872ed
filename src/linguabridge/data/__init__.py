"""Data stage: read raw text, curate it (web text, bitext, synthetic) into clean, language-labelled records."""
