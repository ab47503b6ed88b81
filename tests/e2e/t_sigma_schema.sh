#!/usr/bin/env bash
# t_sigma_schema.sh - every shipped Sigma rule (rules/sigma/*.yml, every YAML
# document) is valid against the official Sigma detection rule JSON schema
# (../shared/sigma/json-schema), and `plcguard rules check` accepts it.
. "$(dirname "$0")/lib.sh"
SCHEMA=$PG_SRC/../shared/sigma/json-schema/sigma-detection-rule-schema.json
if [ ! -f "$SCHEMA" ]; then
	echo "SKIP: the Sigma JSON schema is not at $SCHEMA (../shared absent)"
	exit 77
fi
if ! python3 -c 'import jsonschema, yaml' 2>/dev/null; then
	echo "SKIP: python3-jsonschema or python3-yaml missing (bash .ci/setup)"
	exit 77
fi
for f in "$PG_SRC"/rules/sigma/*.yml; do
	out=$(python3 - "$SCHEMA" "$f" 2>&1 <<'PY'
import datetime, json, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
cls = jsonschema.validators.validator_for(schema)
v = cls(schema, format_checker=cls.FORMAT_CHECKER)
def plain(x):   # YAML dates -> the strings the schema expects
    if isinstance(x, (datetime.date, datetime.datetime)): return x.isoformat()
    if isinstance(x, dict): return {k: plain(y) for k, y in x.items()}
    if isinstance(x, list): return [plain(y) for y in x]
    return x
bad = 0
for i, doc in enumerate(yaml.safe_load_all(open(sys.argv[2]))):
    for e in v.iter_errors(plain(doc)):
        bad += 1
        print("document %d: %s: %s" % (i + 1, "/".join(map(str, e.path)), e.message))
sys.exit(1 if bad else 0)
PY
)
	if [ $? -eq 0 ]; then pass "schema: $(basename "$f")"; else fail "schema: $(basename "$f")"; echo "$out" | sed 's/^/      | /'; fi
	expect_exit 0 "rules check: $(basename "$f")" -- "$PLCGUARD" rules check "$f"
done
finish
