"""Settings: CLI flags > env > TOML config file > defaults, validated once.

Precedence, highest first:

1. command-line flags (passed in as a dict);
2. `VLLM_CHAT_*` environment variables (nested keys with `__`, e.g.
   `VLLM_CHAT_SAMPLING__TEMPERATURE=0.2`);
3. `OPENAI_BASE_URL` / `OPENAI_API_KEY`, as users of the OpenAI SDK expect;
4. the TOML file (`--config PATH`, else `VLLM_CHAT_CONFIG`, else
   `config.toml` in the platform config folder), with the selected
   `[profiles.NAME]` table laid over its top level;
5. the defaults below.

Every problem becomes one `ConfigError` that names the file (or variable), the
key and what is wrong; the CLI prints it and exits with status 2.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from vllm_chat.core.config_errors import explain_runtime_errors, format_errors
from vllm_chat.core.gateway_settings import GatewaySettings, transport_of
from vllm_chat.core.generation.constraint import Constraint
from vllm_chat.core.generation.reasoning import ReasoningControls
from vllm_chat.core.mcp.settings import McpSettings
from vllm_chat.core.params import SamplingParams
from vllm_chat.core.paths import default_config_file
from vllm_chat.core.prompting.templates import TemplateFields
from vllm_chat.core.transport import TransportError
from vllm_chat.core.urls import check_base_url

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

DEFAULT_BASE_URL = "http://localhost:8000/v1"
BUILTIN_TOOLS: tuple[Literal["datetime", "calculator", "read_file", "list_directory"], ...] = (
    "datetime", "calculator", "read_file", "list_directory")


class ConfigError(Exception):
    """A config problem, already phrased for the user (file, key, problem)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ShellParam(_Strict):
    """One typed parameter of a shell tool."""

    type: Literal["string", "integer", "number", "boolean"] = "string"
    """JSON-schema type the model must give; the value is converted to text for argv."""
    description: str = ""
    """What the parameter means, shown to the model."""
    enum: list[str] | None = None
    """Allowed values, if the parameter is a choice."""
    required: bool = True
    """Whether the model must give it; optional ones left out drop their argv items."""
    allow_dash: bool = False
    """Let the value start with `-`. Off, such a value is refused where the program would
    read it as an option (an argv item that starts with the value, before any `--` item)."""


class ShellTool(_Strict):
    """A tool that runs a command. Arguments fill `{name}` placeholders in argv items;
    nothing ever goes through a shell, and every call needs approval."""

    name: str
    """The function name the model calls."""
    description: str = ""
    """What the tool does, shown to the model."""
    command: list[str] = Field(min_length=1)
    """argv template, e.g. `["grep", "-rn", "{pattern}", "{path}"]`."""
    parameters: dict[str, ShellParam] = Field(default_factory=dict)
    """The parameters the model fills in, by name."""
    timeout: float | None = None
    """Seconds before the command is killed (default: `tools.timeout`)."""


class PythonTool(_Strict):
    """A tool implemented by a Python function; its schema comes from the type hints."""

    function: str
    """Import path `package.module:function`."""
    name: str | None = None
    """Function name for the model (default: the Python function's name)."""
    description: str | None = None
    """Description for the model (default: the function's docstring)."""
    confirm: bool = False
    """Ask before every call."""
    timeout: float | None = None
    """Seconds before the call is abandoned (default: `tools.timeout`)."""

    @field_validator("function")
    @classmethod
    def _import_path(cls, value: str) -> str:
        module, _, attr = value.partition(":")
        if not module or not attr:
            raise ValueError("must look like 'package.module:function'")
        return value


class ToolsSettings(_Strict):
    """`[tools]`: what the model may call, and how carefully."""

    enabled: bool = True
    """Offer tools to the model at all (a session can switch them off too)."""
    builtins: list[Literal["datetime", "calculator", "read_file", "list_directory"]] = Field(
        default_factory=lambda: list(BUILTIN_TOOLS)
    )
    """Built-in tools to offer; file tools are read-only and stay inside the start folder."""
    choice: Literal["auto", "none", "required"] = "auto"
    """`tool_choice` sent with tools: the model decides, never calls, or must call."""
    max_rounds: int = Field(default=8, ge=1, le=100)
    """Requests per user turn before the loop is stopped (guards against runaway loops)."""
    timeout: float = Field(default=30.0, gt=0)
    """Seconds a tool may run before it is stopped and reported as timed out."""
    confirm: list[str] = Field(default_factory=list)
    """Names of tools that need approval before each call (shell tools always do)."""
    secret_files: list[str] = Field(default_factory=list)
    """More file patterns the file tools ask before reading, besides the built-in ones
    (keys, `.env`, credential stores): `*.secret` matches a name anywhere, `private/*` a path."""
    python: list[PythonTool] = Field(default_factory=list)
    """`[[tools.python]]` entries: tools backed by your Python functions."""
    shell: list[ShellTool] = Field(default_factory=list)
    """`[[tools.shell]]` entries: tools that run a command with typed arguments."""


class AttachmentSettings(_Strict):
    """`[attachments]`: limits and display of images, video and audio."""

    max_image_side: int = Field(default=2048, ge=64)
    """Images with a longer side are downscaled to this many pixels before sending."""
    max_file_mb: float = Field(default=20.0, gt=0)
    """Refuse local files larger than this many megabytes."""
    recent_images: int = Field(default=4, ge=0)
    """When the server's image limit is exceeded, offer to send only this many recent images."""
    image_protocol: Literal["auto", "tgp", "sixel", "halfcell", "off"] = "auto"
    """How thumbnails are drawn: auto-detect, kitty graphics, Sixel, half blocks, or text only."""


class SessionSettings(_Strict):
    """`[sessions]`: saving and naming conversations."""

    auto_title: bool = False
    """After the first reply, ask the model for a short title (one extra small request)."""
    save_interval: float = Field(default=2.0, gt=0)
    """While a reply streams, save at least this often (seconds)."""


class ModelSettings(_Strict):
    """`[models."NAME"]`: what vllm-chat sends for one model of the server."""

    chat_template: str | None = None
    """A Jinja chat template sent with every chat request for this model (for a model whose
    template is missing or wrong). The server must run with --trust-request-chat-template."""


class MentionSettings(_Strict):
    """`[mentions]`: files named with `@path` in a prompt."""

    max_file_kb: int = Field(default=100, ge=1)
    """Most kilobytes of a mentioned file sent with the message (the rest is cut, with a note)."""
    hidden_files: bool = False
    """Offer hidden files and folders (names starting with '.') in the @ picker."""


class ContextSettings(_Strict):
    """`[context]`: the context meter, the check before sending, and compaction."""

    min_reply_tokens: int = Field(default=256, ge=1)
    """Tokens a reply needs at least: a message is not sent (and the ways to make room are
    offered) when prompt + this much would not fit the context window (a smaller
    `max_tokens` lowers it)."""
    recount_delay: float = Field(default=0.3, ge=0)
    """Seconds after the last change (a typed key) before the prompt is counted again
    with the server's `/tokenize`; the meter shows an estimate meanwhile."""
    count_timeout: float = Field(default=10.0, gt=0)
    """Seconds to wait for a `/tokenize` answer before the meter stays an estimate."""
    compact_keep_turns: int = Field(default=2, ge=0)
    """Compaction keeps this many of the most recent turns word for word and summarises
    the older ones."""
    summary_max_tokens: int = Field(default=1024, ge=64)
    """The longest summary a compaction may ask for (less when the window has less room)."""
    auto_compact_at: float | None = Field(default=None, gt=0, le=1)
    """Compact the conversation before sending when the prompt would take more than this
    share of the context window (e.g. 0.8); unset: only when asked (`/compact`)."""
    tools_notice_share: float = Field(default=0.25, gt=0, le=1)
    """Say once (with the way to switch tools off) when the tool schemas alone take more
    than this share of the context window."""


class SettingsModel(GatewaySettings, _Strict):
    """Every setting, as plain validated data (the TOML file is checked against this);
    the gateway settings (headers, TLS, routing header) come from `GatewaySettings`."""

    base_url: str = DEFAULT_BASE_URL
    """The vLLM server's OpenAI-compatible base URL, `/v1` included."""
    api_key: SecretStr = SecretStr("EMPTY")
    """API key for servers started with `--api-key` (never written to any file)."""
    model: str | None = None
    """Model to use; by default the first one the server lists."""
    profile: str | None = None
    """Name of the `[profiles.NAME]` table to use by default."""
    system_prompt: str = ""
    """System prompt for new conversations (empty: none)."""
    request_timeout: float = Field(default=600.0, gt=0)
    """Seconds without a byte from the server before a request fails."""
    connect_timeout: float = Field(default=5.0, gt=0)
    """Seconds to wait for the TCP connection."""
    load_poll_interval: float = Field(default=15.0, ge=0)
    """Seconds between readings of the server's `/metrics` for the header's load
    indicator while idle (0: only while the server panel is open or a reply waits)."""
    show_reasoning: bool = True
    """Show the reasoning block (collapsed once the answer starts)."""
    reading_width: int = Field(default=120, ge=0)
    """Widest a message is drawn, in columns, however wide the terminal (0: the whole width)."""
    theme: str = "vllm-night"
    """Theme name: one of ours, one of yours, or a Textual built-in."""
    editor: str | None = None
    """Command for editing long prompts (default: $VISUAL, then $EDITOR, then nano or vi)."""
    copy_command: list[str] | None = None
    """Program that copies stdin to the clipboard, besides OSC 52 (default: pbcopy,
    wl-copy, xclip or xsel, whichever is installed)."""
    keymap: dict[str, str] = Field(default_factory=dict)
    """Rebind keys by binding id, e.g. `send = "ctrl+s"` (see the help screen for ids)."""
    sampling: SamplingParams = Field(default_factory=SamplingParams)
    """`[sampling]`: default sampling options for new turns."""
    tools: ToolsSettings = Field(default_factory=ToolsSettings)
    """`[tools]`: tool calling."""
    attachments: AttachmentSettings = Field(default_factory=AttachmentSettings)
    """`[attachments]`: images, video and audio."""
    sessions: SessionSettings = Field(default_factory=SessionSettings)
    """`[sessions]`: saving and titles."""
    mcp: McpSettings = Field(default_factory=McpSettings)
    """`[mcp]`: MCP tool servers (`[[mcp.servers]]`), connected in the background."""
    reasoning: ReasoningControls = Field(default_factory=ReasoningControls)
    """`[reasoning]`: reasoning_effort, thinking_token_budget, include_reasoning and
    chat_template_kwargs for new conversations."""
    constraint: Constraint | None = None
    """`[constraint]`: a structured-output constraint for new conversations (`kind` =
    json_schema, json_object, regex, choice or grammar, and its value)."""
    completion: bool = False
    """Start new conversations in completion mode (a document the model continues)."""
    models: dict[str, ModelSettings] = Field(default_factory=dict)
    """`[models."NAME"]`: settings for one served model (its chat_template)."""
    mentions: MentionSettings = Field(default_factory=MentionSettings)
    """`[mentions]`: `@path` in prompts."""
    prompts: dict[str, TemplateFields] = Field(default_factory=dict)
    """`[prompts.NAME]` tables: saved prompts (besides `prompts/*.md` in the config folder)."""
    context: ContextSettings = Field(default_factory=ContextSettings)
    """`[context]`: counting the prompt, the check before sending, compaction."""

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return check_base_url(value)


class _DictSource(PydanticBaseSettingsSource):
    """A settings source over an already-parsed dict (the TOML file, or OPENAI_* vars)."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class Settings(BaseSettings, SettingsModel):
    """The effective settings of one run. Build it with `load_settings()`."""

    model_config = SettingsConfigDict(
        env_prefix="VLLM_CHAT_",
        env_nested_delimiter="__",
        extra="forbid",
        # Values from the TOML file and env are validated by their source below.
        validate_default=True,
    )

    config_file: Path | None = Field(default=None, exclude=True)
    """The config file that was read, if any (for messages and for saving the theme)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        ctx = _LOAD_CONTEXT
        return (
            init_settings,
            env_settings,
            _DictSource(settings_cls, ctx.get("openai_env", {})),
            _DictSource(settings_cls, ctx.get("file", {})),
        )


# pydantic-settings builds sources from classmethods, so the per-call inputs
# (parsed file, OPENAI_* values) travel in this module-level dict, set and
# cleared around a single `Settings(...)` call in `load_settings`.
_LOAD_CONTEXT: dict[str, dict[str, Any]] = {}


def resolve_config_path(cli_path: str | Path | None, environ: dict[str, str]) -> tuple[Path, bool]:
    """The config file to read and whether the user named it explicitly."""
    if cli_path:
        return Path(cli_path).expanduser(), True
    env_path = environ.get("VLLM_CHAT_CONFIG")
    if env_path:
        return Path(env_path).expanduser(), True
    return default_config_file(), False


def read_config_file(path: Path, explicit: bool) -> dict[str, Any]:
    """Parse the TOML file; a missing default file is simply empty."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"Config file {path} does not exist.") from None
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Config file {path} can't be read: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"Config file {path} has arrays or tables nested too deeply to read; "
                          "no setting needs more than a few levels.") from None


def _select_profile(file_data: dict[str, Any], name: str | None, path: Path) -> dict[str, Any]:
    profiles = file_data.pop("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"Config file {path}: profiles: must be a table of [profiles.NAME] tables")
    chosen = name or file_data.get("profile")
    if not chosen:
        return file_data
    if chosen not in profiles:
        known = ", ".join(sorted(profiles)) or "none are defined"
        raise ConfigError(f"Config file {path}: profile {chosen!r} does not exist (profiles: {known}).")
    overlay = profiles[chosen]
    if not isinstance(overlay, dict):
        raise ConfigError(f"Config file {path}: profiles.{chosen}: must be a table")
    merged = _deep_merge(file_data, overlay)
    merged["profile"] = chosen
    return merged


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_settings(
    cli: dict[str, Any] | None = None,
    *,
    config_path: str | Path | None = None,
    profile: str | None = None,
) -> Settings:
    """Build the effective settings, or raise `ConfigError` with a readable message.

    `cli` holds only the flags the user actually gave (nested dicts for
    tables, e.g. `{"sampling": {"temperature": 0.2}}`).
    """
    environ = dict(os.environ)
    path, explicit = resolve_config_path(config_path, environ)
    file_data = read_config_file(path, explicit)
    file_data = _select_profile(file_data, profile or environ.get("VLLM_CHAT_PROFILE"), path)
    try:
        SettingsModel.model_validate(file_data)
    except ValidationError as exc:
        raise ConfigError(format_errors(f"Config file {path}", exc, SettingsModel)) from None
    except RecursionError:
        raise ConfigError(f"Config file {path} has values nested too deeply to check; "
                          "no setting needs more than a few levels.") from None

    openai_env: dict[str, Any] = {}
    if environ.get("OPENAI_BASE_URL"):
        openai_env["base_url"] = environ["OPENAI_BASE_URL"]
    if environ.get("OPENAI_API_KEY"):
        openai_env["api_key"] = environ["OPENAI_API_KEY"]

    cli = dict(cli or {})
    _LOAD_CONTEXT.update(file=file_data, openai_env=openai_env)
    try:
        settings = Settings(**cli, config_file=path if path.exists() else None)
    except ValidationError as exc:
        raise ConfigError(explain_runtime_errors(exc, SettingsModel, cli, environ, openai_env)) from None
    finally:
        _LOAD_CONTEXT.clear()
    try:
        transport_of(settings).ssl_context()  # a missing secret or CA file stops the start, said plainly
    except TransportError as exc:
        raise ConfigError(str(exc)) from None
    return settings
