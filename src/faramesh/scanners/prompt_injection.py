"""Prompt injection in tool output: text that tries to take over the agent reading it.

Runs on tool output by default (`deny`), where a web page, a file or an API response may
carry instructions aimed at the model. The detectors want an instruction, not a topic:
"you are now a different assistant" fires, "you are now logged in" does not.
"""

from __future__ import annotations

from faramesh.scanners.detector import EXCERPT_CHARS, Detector

SCANNER = "prompt_injection"

_VERBS = r"(?:ignore|send|forward|email|delete|run|execute|call|fetch|include|reveal|do\s+not)"

DETECTORS: tuple[Detector, ...] = (
    Detector("ignore_instructions",
             r"(?i)\b(?:ignore|disregard|forget|override|bypass)\s+(?:(?:all|any|every|the"
             r"|your|my|these|those|of|everything)\s+)*(?:previous|prior|above|earlier"
             r"|preceding|former|original|system|initial|existing)\s+(?:instructions?|prompts?"
             r"|directions?|directives?|rules|guidelines|context|messages?|commands?)\b",
             reveal=EXCERPT_CHARS),
    Detector("role_override",
             r"(?i)\byou\s+are\s+(?:now|no\s+longer)\s+(?:(?:a|an|the|my)\s+)?(?:(?:new"
             r"|different|unrestricted|unfiltered|jailbroken|uncensored|evil|rogue)\s+)?"
             r"(?:AI|assistant|chatbot|model|bot|language\s+model|LLM|persona|character|DAN)\b"
             r"|(?i)\bact\s+as\s+(?:an?\s+)?(?:unrestricted|unfiltered|jailbroken|uncensored)\b"
             r"|(?i)\b(?:DAN|jailbreak|god)\s+mode\b", reveal=EXCERPT_CHARS),
    Detector("system_prompt_exfiltration",
             r"(?i)\b(?:reveal|print|show|display|output|repeat|dump|leak|tell\s+me|give\s+me"
             r"|what\s+(?:is|are|was|were))\s+(?:me\s+)?(?:your|the)\s+(?:(?:full|entire"
             r"|complete|exact|original|initial|hidden|secret|verbatim)\s+)*(?:system\s+"
             r"(?:prompt|message|instructions?)|(?:initial|hidden|original|secret)\s+"
             r"(?:prompt|instructions?)|developer\s+(?:message|prompt))\b"
             r"|(?i)\b(?:reveal|print|repeat|dump|leak)\s+(?:me\s+)?your\s+(?:instructions"
             r"|prompt|rules)\b|(?i)\b(?:repeat|print|output)\s+(?:everything|all\s+the\s+text)"
             r"\s+above\b", reveal=EXCERPT_CHARS),
    Detector("hidden_html_instruction",
             r"(?is)<!--(?:[^-\x00]|-[^-\x00])*?(?:\b(?:ignore|disregard|forget)\b|\binstructions?"
             rf"\s*(?::|for\s+(?:the\s+)?(?:AI|assistant|agent|model|LLM)\b)|\b(?:AI|assistant"
             rf"|agent|LLM)\s*[:,]\s*(?:please\s+)?{_VERBS}\b|\byou\s+(?:must|should|will)\s+"
             rf"(?:now\s+)?{_VERBS}\b)", reveal=4),
    Detector("conceal_from_user",
             r"(?i)\b(?:do\s+not|don't|never)\s+(?:tell|inform|alert|notify|mention\s+(?:this\s+)?"
             r"to|reveal\s+(?:this\s+)?to)\s+(?:the\s+)?user\b", reveal=EXCERPT_CHARS),
    Detector("role_marker",
             r"<\|(?:im_start|im_end|system|user|assistant|endoftext)\|>|\[/?INST\]|<</?SYS>>",
             reveal=EXCERPT_CHARS),
    Detector("invisible_text",
             r"[\x{E0000}-\x{E007F}]{3,}|[\x{200B}\x{200C}\x{200D}\x{2060}\x{FEFF}]{8,}"),
)
