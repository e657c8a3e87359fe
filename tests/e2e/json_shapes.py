"""The `--json` shapes as JSON Schemas: the contract scripts rely on (README: JSON
output). Kept here, apart from the code that prints them (glacier_tasks/commands/
shapes.py), so that a change of shape is a change of these tests too. Every shape
allows fields added later (additionalProperties), never missing or retyped ones."""

import jsonschema

INT = {"type": "integer", "minimum": 0}
USD = {"type": "number", "minimum": 0}
TEXT = {"type": "string"}
TIME = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"}
STRINGS = {"type": "array", "items": TEXT}


def thing(**fields) -> dict:
    return {"type": "object", "required": sorted(fields), "properties": fields}


def versioned(**fields) -> dict:
    return thing(version={"const": 1}, **fields)


def costs(*names) -> dict:
    return thing(**{f"{name}_usd": USD for name in names})


RESTORE_COST = costs("retrieval", "requests", "transfer", "total")

LIST = versioned(
    year={"type": ["integer", "null"]}, scanned={"oneOf": [TIME, {"type": "null"}]},
    out_of_date=STRINGS, pending=INT,
    bags={"type": "array", "items": thing(
        name=TEXT, molecule=TEXT, archive_key=TEXT, atoms=STRINGS, size=INT, files=INT,
        action={"enum": ["keep", "upload"]}, reasons=STRINGS, pending={"type": "boolean"},
        waiting_for=TEXT)})

FIND = versioned(
    pattern=TEXT, all_years={"type": "boolean"},
    matches={"type": "array", "items": thing(
        path=TEXT, bag=TEXT, archive_key=TEXT, size=INT, mtime=TIME,
        sha256={"type": ["string", "null"]}, note=TEXT, year={"type": ["integer", "null"]})})

COST = versioned(
    prices_date=TEXT, monthly_usd=USD, prunable_bytes=INT,
    storage={"type": "array", "items": thing(storage_class=TEXT, objects=INT, bytes=INT,
                                              monthly_usd=USD)},
    current=thing(bags=INT, bytes=INT, monthly_usd=USD),
    history=thing(bags=INT, bytes=INT, monthly_usd=USD, keep_years=INT,
                  per_year_bytes=INT, per_year_monthly_usd=USD),
    full_restore=thing(bulk=RESTORE_COST, standard=RESTORE_COST),
    one_object_per_file=thing(objects=INT, bags=INT, upload_fee_usd=USD, monthly_usd=USD,
                              restore_bulk_usd=USD))

COST_BY_HOST = versioned(prices_date=TEXT, hosts={"type": "array", "items": thing(
    host=TEXT, objects=INT, bytes=INT, monthly_usd=USD)})

VERIFY = versioned(host=TEXT, bags=INT, deep={"type": "boolean"}, ok={"type": "boolean"},
                   problems=STRINGS, warnings=STRINGS, thawing=INT)

VERIFY_BY_HOST = versioned(ok={"type": "boolean"},
                           hosts={"type": "array", "items": VERIFY})

RESTORE_ESTIMATE = versioned(
    what=TEXT, tier={"enum": ["Bulk", "Standard", "Expedited"]}, thaw_takes=TEXT,
    bags={"type": "array", "items": thing(archive_key=TEXT, size=INT, download=INT,
                                           ranged={"type": "boolean"}, why_whole=TEXT)},
    thaw_bytes=INT, download_bytes=INT, cost=RESTORE_COST,
    space={"type": "array", "items": thing(folder=TEXT, bytes=INT, free=INT,
                                            **{"for": {"enum": ["files", "download"]}})},
    problem={"type": ["string", "null"]})

DATE = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\d$"}
PRUNE = versioned(
    date=DATE, delete={"type": "boolean"}, force={"type": "boolean"}, min_age_days=INT,
    deleted=thing(objects=INT, bytes=INT),
    objects={"type": "array", "items": thing(
        key=TEXT, size=INT, storage_class=TEXT, uploaded=DATE, age_days=INT,
        verdict={"enum": ["delete", "history", "held", "young"]},
        deleted={"type": "boolean"}, early_deletion_fee_usd=USD, free_from=DATE,
        history_until={"oneOf": [DATE, {"type": "null"}]},
        object_lock={"oneOf": [{"type": "null"}, thing(
            until={"oneOf": [TIME, {"type": "null"}]},
            mode={"type": ["string", "null"]}, legal_hold={"type": "boolean"},
            with_bag={"type": ["string", "null"]})]},
        loses={"oneOf": [{"type": "null"}, thing(
            deleted_files=INT, deleted_bytes=INT, deleted_examples=STRINGS,
            older_versions=INT, older_bytes=INT, older_examples=STRINGS)]})})


def check(document: dict, schema: dict) -> dict:
    jsonschema.validate(document, schema)
    return document
