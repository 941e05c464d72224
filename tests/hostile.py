"""Text built to break out of every place symopt writes a user's text: a docstring, a comment, a string,
a line (shared by the security and report tests)."""

HOSTILE = ('x """; open(SENTINEL, "w").write("pwned"); """ \' \'\'\'; open(SENTINEL, "w") \\\n'
           '\nimport os; os.system("touch SENTINEL")  # \r\n\x00 \u2028 \x0c caf\u00e9 \\x41 \\')
