"""Normalises addresses with usaddress-scourgify, an independent USPS Pub 28
normaliser, for leash's cross-check test (tests/address_crosscheck.rs).

Reads a JSON list of address strings on stdin; writes a JSON list with, for
each, either the normalised fields or the error scourgify gave.
"""

import json
import sys
import warnings

warnings.filterwarnings("ignore")

from scourgify import normalize_address_record  # noqa: E402

FIELDS = ["address_line_1", "address_line_2", "city", "state", "postal_code"]


def normalise(text):
    try:
        record = normalize_address_record(text)
    except Exception as e:  # scourgify raises its own error types per failure
        return {"error": f"{type(e).__name__}: {e}"}
    return {f: (record.get(f) or "") for f in FIELDS}


def main():
    addresses = json.load(sys.stdin)
    json.dump([normalise(a) for a in addresses], sys.stdout)


if __name__ == "__main__":
    main()
