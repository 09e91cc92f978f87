"""Checks a package against the schemas in schemas/ with lxml, and against the QTI rules a
schema cannot state (every identifier a response or feedback names is declared; every file
the manifest lists is in the zip).

The schemas are Artefact's own subsets of QTI 2.1 and IMS CP 1.1 (schemas/*.xsd say why:
no registry this project reaches ships the IMS files); they are loaded from this folder
only, never from the network.
"""

from __future__ import annotations

import io
import zipfile
from functools import lru_cache
from pathlib import Path

from lxml import etree

from assessments.qti import CP_NS, MANIFEST_NAME, QTI_NS

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"


def _schema_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@lru_cache(maxsize=2)
def schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / name), _schema_parser()))


def _rule_errors(item: etree._Element) -> list[str]:
    ns = {"q": QTI_NS}
    declared = set(item.xpath("q:responseDeclaration/@identifier", namespaces=ns))
    outcomes = set(item.xpath("q:outcomeDeclaration/@identifier", namespaces=ns))
    errors = []
    for name in item.xpath(".//q:itemBody//@responseIdentifier", namespaces=ns):
        if name not in declared:
            errors.append(f"interaction answers undeclared response {name}")
    for name in item.xpath(".//@outcomeIdentifier", namespaces=ns):
        if name not in outcomes:
            errors.append(f"feedback shows on undeclared outcome {name}")
    for name in item.xpath(".//q:setOutcomeValue/@identifier", namespaces=ns):
        if name not in outcomes:
            errors.append(f"response processing sets undeclared outcome {name}")
    choices = set(item.xpath(".//q:simpleChoice/@identifier", namespaces=ns))
    for declaration in item.xpath("q:responseDeclaration[@baseType='identifier']", namespaces=ns):
        for value in declaration.xpath("q:correctResponse/q:value/text()", namespaces=ns):
            if value.strip() not in choices:
                errors.append(f"correct response {value.strip()} is not a choice")
    return errors


def package_errors(content: bytes) -> list[str]:
    """Every schema and rule violation in the package, as 'file: line: message'."""
    errors: list[str] = []
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = set(archive.namelist())
        manifest = etree.fromstring(archive.read(MANIFEST_NAME), _schema_parser())
        manifest_schema = schema("imscp_v1p1_subset.xsd")
        if not manifest_schema.validate(manifest):
            errors += [f"{MANIFEST_NAME}: {e.line}: {e.message}" for e in manifest_schema.error_log]
        item_schema = schema("qti_v2p1_subset.xsd")
        for resource in manifest.iter(f"{{{CP_NS}}}resource"):
            for file in resource.iter(f"{{{CP_NS}}}file"):
                if file.get("href") not in names:
                    errors.append(f"{MANIFEST_NAME}: lists {file.get('href')}, not in the zip")
            href = resource.get("href")
            if href not in names:
                continue
            item = etree.fromstring(archive.read(href), _schema_parser())
            if not item_schema.validate(item):
                errors += [f"{href}: {e.line}: {e.message}" for e in item_schema.error_log]
            errors += [f"{href}: {message}" for message in _rule_errors(item)]
            for image in item.xpath(".//q:object/@data | .//q:img/@src", namespaces={"q": QTI_NS}):
                if image not in names:
                    errors.append(f"{href}: shows {image}, not in the zip")
    return errors
