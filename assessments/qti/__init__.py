"""Question bank interchange: IMS QTI 2.1 content packages, written and read.

A package is a zip with `imsmanifest.xml` (IMS Content Packaging 1.1) and one QTI 2.1
`assessmentItem` per question, plus, for image questions, the PNG of the slice the question
is asked on and a key image with the reference segment drawn over it. What QTI cannot say
(the question kind, the bank's tags, the library study and DICOM SEG segment an image
question is scored against, a kind's scoring parameters) travels in Artefact's extension
namespace inside each resource's manifest metadata (schemas/artefact_qti_extension.xsd).

Modules: `rich_text` (prompt HTML <-> QTI XHTML, allow-listed both ways), `key_images`
(slice and key PNGs from the library), `writer` (questions -> package), `reader` (package ->
question drafts, refusing unsafe zips and XML), `schema_check` (lxml against the schemas).
"""

QTI_NS = "http://www.imsglobal.org/xsd/imsqti_v2p1"
CP_NS = "http://www.imsglobal.org/xsd/imscp_v1p1"
EXT_NS = "urn:x-artefact:qti-extension:1"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
QTI_SCHEMA_LOCATION = "http://www.imsglobal.org/xsd/qti/qtiv2p1/imsqti_v2p1.xsd"
CP_SCHEMA_LOCATION = "http://www.imsglobal.org/xsd/imscp_v1p1.xsd"
ITEM_RESOURCE_TYPE = "imsqti_item_xmlv2p1"
MANIFEST_NAME = "imsmanifest.xml"
