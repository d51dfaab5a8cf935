"""Generation controls only vLLM has, as plain data and the requests they make.

- `constraint`: structured outputs (a JSON schema, any JSON object, a regex,
  a choice list, an EBNF grammar) and how vLLM 0.32 wants each one sent;
- `constraint_input`: a constraint from what the user gave (a file, inline
  JSON, `A,B,C`), with a message when it is unusable;
- `check`: whether a reply matches the constraint its request carried;
- `reasoning`: `reasoning_effort`, `thinking_token_budget`,
  `include_reasoning` and free-form `chat_template_kwargs`;
- `preflight`: combinations vLLM refuses (or silently mishandles), explained
  before anything is sent;
- `completion`: completion mode for base models (the conversation as one
  document for `/v1/completions`).

Nothing here imports the SDK, Textual or the rest of the session.
"""
