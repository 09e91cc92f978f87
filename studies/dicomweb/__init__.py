"""DICOMweb server (PS3.18): QIDO-RS search, WADO-RS retrieve, STOW-RS store.

urls.py routes /dicomweb/...; views.py holds thin views; access.py authenticates (session or
HTTP Basic) and turns errors into DICOMweb responses; dicomjson.py writes the DICOM JSON
model (PS3.18 Annex F); multipart.py reads and writes multipart/related bodies (RFC 2387);
pixels.py extracts frames and renders images. Reads go through studies.selectors, writes
through studies.services, and access decisions through accounts.permissions.
"""
