#!/usr/bin/env python3
"""Validates a config directory against schemas/*.schema.json (JSON Schema 2020-12).

Prints one line per file, `valid <file>` or `invalid <file>: <reason>`, and exits 0 whatever the
verdicts (1 only when the checker itself cannot run). Used by the tests to keep the schemas and
the loader in agreement; editors use the same schemas through `# yaml-language-server: $schema=`.
"""
import json
import os
import re
import sys

try:
    import jsonschema
    import yaml
except ImportError as error:  # pragma: no cover
    print(f"check-schema: {error}; install with: python3 -m pip install jsonschema pyyaml", file=sys.stderr)
    sys.exit(1)

class Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 core-schema booleans, as editors and breakout read them: `yes`, `no`, `on`, `off` stay text."""


Yaml12Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))

here = os.path.dirname(os.path.abspath(__file__))
schemas = os.path.join(here, "..", "schemas")


def validator(name):
    with open(os.path.join(schemas, name)) as f:
        return jsonschema.Draft202012Validator(json.load(f))


def check(path, v):
    try:
        with open(path) as f:
            document = yaml.load(f, Loader=Yaml12Loader)
    except yaml.YAMLError as error:
        return f"YAML error: {str(error).splitlines()[0]}"
    errors = sorted(v.iter_errors(document), key=lambda e: list(e.path))
    return None if not errors else errors[0].message


def main(directory):
    settings = validator("breakout.schema.json")
    organization = validator("organization.schema.json")
    files = [("breakout.yaml", settings)]
    folder = os.path.join(directory, "organizations")
    if os.path.isdir(folder):
        files += [(f"organizations/{n}", organization) for n in sorted(os.listdir(folder)) if n.endswith((".yaml", ".yml"))]
    for name, v in files:
        path = os.path.join(directory, name)
        if not os.path.exists(path):
            print(f"invalid {name}: missing")
            continue
        reason = check(path, v)
        print(f"valid {name}" if reason is None else f"invalid {name}: {reason}")


if __name__ == "__main__":
    main(sys.argv[1])
