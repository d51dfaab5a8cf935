"""Find the code blocks in a Markdown reply (for "copy a code block")."""

from __future__ import annotations

from dataclasses import dataclass

from vllm_chat.core.markdown_blocks import markdown_parser


@dataclass(frozen=True)
class CodeBlock:
    """One fenced or indented code block."""

    language: str
    """The fence's info string (first word), or '' when none was given."""
    code: str
    """The code, without the fence lines."""

    @property
    def label(self) -> str:
        """'python · 12 lines · def main():' for a picker."""
        lines = self.code.splitlines()
        first = next((line.strip() for line in lines if line.strip()), "")
        parts = [self.language or "text", f"{len(lines)} line{'s' if len(lines) != 1 else ''}"]
        if first:
            parts.append(first[:60])
        return " · ".join(parts)


def code_blocks(markdown: str) -> list[CodeBlock]:
    """The code blocks of `markdown`, in order."""
    blocks = []
    for token in markdown_parser().parse(markdown):
        if token.type == "fence":
            language = (token.info or "").strip().split(" ")[0]
            blocks.append(CodeBlock(language, token.content))
        elif token.type == "code_block":
            blocks.append(CodeBlock("", token.content))
    return blocks
