"""FPL front end: source text -> tokens -> syntax tree -> checked IR (see `compile_policy`)."""
