"""The prompt as a workbench: what turns a typed prompt into the message that is sent.

- `files`: the files of the start folder a `@` can name (git's ignore rules, fuzzy match);
- `mentions`: `@path` in a prompt becomes the file's text (or an attachment);
- `templates`: saved prompts with `{{variables}}`, and roles.
"""
