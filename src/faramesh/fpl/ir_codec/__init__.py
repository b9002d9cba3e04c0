"""The YAML and JSON encodings of the policy IR (`governance.fms.yaml`, `governance.fms.json`).

`ir_to_data` gives plain data (text, whole numbers, booleans, null, lists, mappings) that
`data_to_ir` reads back to an equal IR, value types included; `dump_*` and `load_ir_*` add
the text layer. One table (`RECORDS`) says how each IR record is written and read.
Conditions travel as canonical FPL condition text; money, durations and sizes as their
literals. Reading validates everything, never raises, and records every problem, located,
in the sink; what reads cleanly is then checked as FPL text is (`faramesh.fpl.ir_checks`).
docs/ir-format.md describes the form.

Modules: `records` (the table), `literals` (what text spells), `writer` (IR -> data),
`values` and `reader` (data -> IR), `text` (YAML/JSON text).
"""

from faramesh.fpl.ir_codec.reader import data_to_ir
from faramesh.fpl.ir_codec.records import FORMAT_VERSION
from faramesh.fpl.ir_codec.text import dump_json, dump_yaml, load_ir_json, load_ir_yaml
from faramesh.fpl.ir_codec.writer import ir_to_data

__all__ = ["FORMAT_VERSION", "data_to_ir", "dump_json", "dump_yaml", "ir_to_data",
           "load_ir_json", "load_ir_yaml"]
