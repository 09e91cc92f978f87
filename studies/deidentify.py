"""De-identification of DICOM instances: the Basic Application Level Confidentiality Profile.

DICOM PS3.15 Annex E defines the profile as an action for every attribute that can carry
identifying information (Table E.1-1). This module holds that table as data
(`BASIC_PROFILE_RULES`, transcribed from a 2020s edition of PS3.15; compare with the current
edition when updating) and applies it to a pydicom Dataset, recursing into sequences:

    report = dataset_deidentify(ds, uid_map=UidMap(namespace="..."), date_offset_days=-400)

Actions (PS3.15 Table E.1-1 legend):
    D  replace with a non-zero-length dummy value consistent with the VR
    Z  replace with a zero-length value (or a dummy)
    X  remove
    K  keep (sequences: keep and clean their items)
    C  clean: keep the meaning, drop identifying content (only used by the options)
    U  replace a UID with another UID, consistently within the set of instances
Compound actions ("X/Z", "Z/D", "X/Z/D", "X/D", "X/Z/U*") choose by the attribute's Type in
the IOD. Without per-IOD Type tables we choose the *conformance-preserving* alternative,
which removes the same information: a present, non-empty value that the profile lets us
replace with a dummy (D) is replaced (it may be Type 1), otherwise it is emptied if Z is
allowed (it may be Type 2), otherwise it is removed. Sequences under "X/Z/U*" are kept
and their items cleaned, so the UIDs they reference are remapped (U*).

Beyond the table, following PS3.15 E.1.1 and E.3.10:
- private attributes (odd groups) are removed (the Retain Safe Private option is not offered);
- curve groups (50xx) are removed; overlay groups (60xx) are removed whole, not only Overlay
  Data and Overlay Comments, because an Overlay Plane without its data is not conformant;
- command-group (0000) and group-length (gggg,0000) elements are removed.

Options (PS3.15 E.3), chosen with one `ProfileOptions` object (`options=`); the default is
the Basic Profile alone, which is what the library build and STOW-RS ingest use:
- Retain Longitudinal Temporal Information with Modified Dates (E.3.6), also reachable by
  passing `date_offset_days`: every attribute marked "C" in that option's column keeps its
  value with dates moved by the same number of days (times of day are kept, a whole-day
  shift does not change them), and so does every other DA or DT attribute, so that no
  unlisted date (e.g. Instance Creation Date) betrays the shift. Without the option the
  listed attributes follow the Basic Profile action and unlisted dates are kept.
- Retain Longitudinal Temporal Information with Full Dates (E.3.6): the attributes marked
  "C" in the Modified Dates column are exactly those marked "K" in the Full Dates column of
  Table E.1-1, so the same rows are kept unchanged.
- Retain UIDs (E.3.9): every row whose Basic action involves U is "K" in that column.
- Retain Device Identity (E.3.8), Retain Institution Identity (E.3.11), Retain Patient
  Characteristics (E.3.7): the rows marked "K" in those columns, transcribed below as tag
  sets.
- Clean Descriptors (E.3.5): the rows marked "C" keep a cleaned value. Cleaning removes
  every identifier the instance itself carries (names, IDs, institution, station, dates in
  the usual spellings) and identifier-shaped tokens (long digit runs, "Dr X"); PS3.15 E.3.5
  Note 2 asks for such cleaning "without human intervention" and admits it is imperfect.
- Retain Safe Private (E.3.10): private attributes listed in Table E.3.10-1 (the GE, Elscint
  and Philips rows transcribed below) are kept with their Private Creator; all others go.
- Clean Pixel Data (E.3.1): burned-in annotation is found in the top and bottom bands of
  the image (pixels brighter than anything in the central field, the way modalities burn
  text at full white) and in any configured `PixelRegion`s, and blanked to the frame's
  minimum; the report says which rectangles were blanked. Only native (uncompressed)
  pixel data can be cleaned.

Without Clean Pixel Data, pixel data are never inspected: instances that may carry
burned-in text are flagged (`DeidentificationReport.needs_review`) for a person to check.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.uid import UID

__all__ = [
    "BASIC_PROFILE_RULES",
    "PROFILE_OPTIONS",
    "REVIEW_STATUS_CLEAN",
    "REVIEW_STATUS_QUARANTINE",
    "AttributeAction",
    "DeidentificationReport",
    "Outcome",
    "PixelRegion",
    "PixelRegionBlanked",
    "ProfileOption",
    "ProfileOptions",
    "ProfileRule",
    "UidMap",
    "burned_in_annotation_risk",
    "burned_in_regions_detect",
    "dataset_deidentify",
    "pixel_data_clean",
    "uid_from_key",
]

REVIEW_STATUS_CLEAN = "de-identified"
REVIEW_STATUS_QUARANTINE = "quarantine: needs review"

DEIDENTIFICATION_METHOD = "Artefact PS3.15 Basic Application Confidentiality Profile"
DEIDENTIFICATION_METHOD_MODIFIED_DATES = "Retain Longitudinal Temporal Info Modified Dates"

# PS3.16 CID 7050 "De-identification Method", coding scheme DCM.
CODE_BASIC_PROFILE = ("113100", "Basic Application Confidentiality Profile")
CODE_MODIFIED_DATES = ("113107", "Retain Longitudinal Temporal Information Modified Dates Option")

# "cleaned": a sequence kept because the IOD may need it, its items de-identified in turn.
# "descriptor_cleaned": free text kept with the identifiers taken out (Clean Descriptors).
Outcome = Literal[
    "removed",
    "emptied",
    "replaced",
    "uid_replaced",
    "date_shifted",
    "cleaned",
    "descriptor_cleaned",
    "kept",
]


@dataclass(frozen=True)
class ProfileRule:
    """One row of PS3.15 Table E.1-1."""

    tag: int
    action: str  # the Basic Profile column, as printed: "X", "Z/D", "X/Z/U*", ...
    modified_dates: str  # the Retain Longitudinal ... Modified Dates Option column: "C" or ""
    name: str


# PS3.15 Annex E, Table E.1-1 "Application Level Confidentiality Profile Attributes":
# (tag, Basic Profile action, Modified Dates option, attribute name). The curve, overlay and
# private rows of the table are repeating groups; they are handled in `_element_deidentify`.
_TABLE_E1_1: tuple[tuple[int, str, str, str], ...] = (
    (0x00080050, "Z", "", "Accession Number"),
    (0x00184000, "X", "", "Acquisition Comments"),
    (0x00400555, "X/Z", "", "Acquisition Context Sequence"),
    (0x00080022, "X/Z", "C", "Acquisition Date"),
    (0x0008002A, "X/Z/D", "C", "Acquisition DateTime"),
    (0x00181400, "X/D", "", "Acquisition Device Processing Description"),
    (0x001811BB, "D", "", "Acquisition Field Of View Label"),
    (0x00189424, "X", "", "Acquisition Protocol Description"),
    (0x00080032, "X/Z", "C", "Acquisition Time"),
    (0x00404035, "X", "", "Actual Human Performers Sequence"),
    (0x001021B0, "X", "", "Additional Patient History"),
    (0x0040A353, "X", "", "Address (Trial)"),
    (0x00380010, "X", "", "Admission ID"),
    (0x00380020, "X", "C", "Admitting Date"),
    (0x00081084, "X", "", "Admitting Diagnoses Code Sequence"),
    (0x00081080, "X", "", "Admitting Diagnoses Description"),
    (0x00380021, "X", "C", "Admitting Time"),
    (0x00001000, "X", "", "Affected SOP Instance UID"),
    (0x00102110, "X", "", "Allergies"),
    (0x40000010, "X", "", "Arbitrary"),
    (0x0040A078, "X", "", "Author Observer Sequence"),
    (0x22000005, "X/Z", "", "Barcode Value"),
    (0x300A00C3, "X", "", "Beam Description"),
    (0x300A00DD, "X", "", "Bolus Description"),
    (0x00101081, "X", "", "Branch of Service"),
    (0x0016004D, "X", "", "Camera Owner Name"),
    (0x00181007, "X", "", "Cassette ID"),
    (0x00120060, "Z", "", "Clinical Trial Coordinating Center Name"),
    (0x00120082, "X", "", "Clinical Trial Protocol Ethics Committee Approval Number"),
    (0x00120081, "D", "", "Clinical Trial Protocol Ethics Committee Name"),
    (0x00120020, "D", "", "Clinical Trial Protocol ID"),
    (0x00120021, "Z", "", "Clinical Trial Protocol Name"),
    (0x00120072, "X", "", "Clinical Trial Series Description"),
    (0x00120071, "X", "", "Clinical Trial Series ID"),
    (0x00120030, "Z", "", "Clinical Trial Site ID"),
    (0x00120031, "Z", "", "Clinical Trial Site Name"),
    (0x00120010, "D", "", "Clinical Trial Sponsor Name"),
    (0x00120040, "D", "", "Clinical Trial Subject ID"),
    (0x00120042, "D", "", "Clinical Trial Subject Reading ID"),
    (0x00120051, "X", "", "Clinical Trial Time Point Description"),
    (0x00120050, "Z", "", "Clinical Trial Time Point ID"),
    (0x00400310, "X", "", "Comments on Radiation Dose"),
    (0x00400280, "X", "", "Comments on the Performed Procedure Step"),
    (0x300A02EB, "X", "", "Compensator Description"),
    (0x00209161, "U", "", "Concatenation UID"),
    (0x3010000F, "Z", "", "Conceptual Volume Combination Description"),
    (0x30100017, "Z", "", "Conceptual Volume Description"),
    (0x30100006, "U", "", "Conceptual Volume UID"),
    (0x00403001, "X", "", "Confidentiality Constraint on Patient Data Description"),
    (0x30100013, "U", "", "Constituent Conceptual Volume UID"),
    (0x0008009C, "Z", "", "Consulting Physician's Name"),
    (0x0008009D, "X", "", "Consulting Physician Identification Sequence"),
    (0x0050001B, "X", "", "Container Component ID"),
    (0x0040051A, "X", "", "Container Description"),
    (0x00400512, "D", "", "Container Identifier"),
    (0x00700086, "X", "", "Content Creator's Identification Code Sequence"),
    (0x00700084, "Z/D", "", "Content Creator's Name"),
    (0x00080023, "Z/D", "C", "Content Date"),
    (0x0040A730, "D", "", "Content Sequence"),
    (0x00080033, "Z/D", "C", "Content Time"),
    (0x00180010, "Z/D", "", "Contrast/Bolus Agent"),
    (0x0018A003, "X", "", "Contribution Description"),
    (0x00102150, "X", "", "Country of Residence"),
    (0x0040A307, "X", "", "Current Observer (Trial)"),
    (0x00380300, "X", "", "Current Patient Location"),
    (0x00080025, "X", "C", "Curve Date"),
    (0x00080035, "X", "C", "Curve Time"),
    (0x0040A07C, "X", "", "Custodial Organization Sequence"),
    (0xFFFCFFFC, "X", "", "Data Set Trailing Padding"),
    (0x0018937F, "X", "", "Decomposition Description"),
    (0x00082111, "X", "", "Derivation Description"),
    (0x0018700A, "X/D", "", "Detector ID"),
    (0x3010001B, "Z", "", "Device Alternate Identifier"),
    (0x00500020, "X", "", "Device Description"),
    (0x3010002D, "D", "", "Device Label"),
    (0x00181000, "X/Z/D", "", "Device Serial Number"),
    (0x0016004B, "X", "", "Device Setting Description"),
    (0x00181002, "U", "", "Device UID"),
    (0xFFFAFFFA, "X", "", "Digital Signatures Sequence"),
    (0x04000100, "U", "", "Digital Signature UID"),
    (0x00209164, "U", "", "Dimension Organization UID"),
    (0x00380040, "X", "", "Discharge Diagnosis Description"),
    (0x4008011A, "X", "", "Distribution Address"),
    (0x40080119, "X", "", "Distribution Name"),
    (0x300A0016, "X", "", "Dose Reference Description"),
    (0x300A0013, "U", "", "Dose Reference UID"),
    (0x3010006E, "U", "", "Dosimetric Objective UID"),
    (0x00189517, "X/D", "C", "End Acquisition DateTime"),
    (0x30100037, "X", "", "Entity Description"),
    (0x30100035, "D", "", "Entity Label"),
    (0x30100038, "D", "", "Entity Long Label"),
    (0x30100036, "X", "", "Entity Name"),
    (0x300A0676, "X", "", "Equipment Frame of Reference Description"),
    (0x00102160, "X", "", "Ethnic Group"),
    (0x00404011, "X", "C", "Expected Completion DateTime"),
    (0x00080058, "U", "", "Failed SOP Instance UID List"),
    (0x0070031A, "U", "", "Fiducial UID"),
    (0x00402017, "Z", "", "Filler Order Number / Imaging Service Request"),
    (0x30080054, "X/D", "C", "First Treatment Date"),
    (0x300A0196, "X", "", "Fixation Device Description"),
    (0x00340002, "D", "", "Flow Identifier"),
    (0x00340001, "D", "", "Flow Identifier Sequence"),
    (0x3010007F, "Z", "", "Fractionation Notes"),
    (0x300A0072, "X", "", "Fraction Group Description"),
    (0x00209158, "X", "", "Frame Comments"),
    (0x00200052, "U", "", "Frame of Reference UID"),
    (0x00340007, "D", "C", "Frame Origin Timestamp"),
    (0x00181008, "X", "", "Gantry ID"),
    (0x00181005, "X", "", "Generator ID"),
    (0x00160076, "X", "", "GPS Altitude"),
    (0x00160075, "X", "", "GPS Altitude Ref"),
    (0x0016008C, "X", "", "GPS Area Information"),
    (0x0016008D, "X", "C", "GPS Date Stamp"),
    (0x00160088, "X", "", "GPS Dest Bearing"),
    (0x00160087, "X", "", "GPS Dest Bearing Ref"),
    (0x0016008A, "X", "", "GPS Dest Distance"),
    (0x00160089, "X", "", "GPS Dest Distance Ref"),
    (0x00160084, "X", "", "GPS Dest Latitude"),
    (0x00160083, "X", "", "GPS Dest Latitude Ref"),
    (0x00160086, "X", "", "GPS Dest Longitude"),
    (0x00160085, "X", "", "GPS Dest Longitude Ref"),
    (0x0016008E, "X", "", "GPS Differential"),
    (0x0016007B, "X", "", "GPS DOP"),
    (0x00160081, "X", "", "GPS Img Direction"),
    (0x00160080, "X", "", "GPS Img Direction Ref"),
    (0x00160072, "X", "", "GPS Latitude"),
    (0x00160071, "X", "", "GPS Latitude Ref"),
    (0x00160074, "X", "", "GPS Longitude"),
    (0x00160073, "X", "", "GPS Longitude Ref"),
    (0x00160082, "X", "", "GPS Map Datum"),
    (0x0016007A, "X", "", "GPS Measure Mode"),
    (0x0016008B, "X", "", "GPS Processing Method"),
    (0x00160078, "X", "", "GPS Satellites"),
    (0x0016007D, "X", "", "GPS Speed"),
    (0x0016007C, "X", "", "GPS Speed Ref"),
    (0x00160079, "X", "", "GPS Status"),
    (0x00160077, "X", "", "GPS Time Stamp"),
    (0x0016007F, "X", "", "GPS Track"),
    (0x0016007E, "X", "", "GPS Track Ref"),
    (0x00160070, "X", "", "GPS Version ID"),
    (0x00700001, "D", "", "Graphic Annotation Sequence"),
    (0x00404037, "X", "", "Human Performer's Name"),
    (0x00404036, "X", "", "Human Performer's Organization"),
    (0x00880200, "X", "", "Icon Image Sequence"),
    (0x00084000, "X", "", "Identifying Comments"),
    (0x00204000, "X", "", "Image Comments"),
    (0x00284000, "X", "", "Image Presentation Comments"),
    (0x00402400, "X", "", "Imaging Service Request Comments"),
    (0x003A0314, "D", "C", "Impedance Measurement DateTime"),
    (0x40080300, "X", "", "Impressions"),
    (0x00080015, "X", "C", "Instance Coercion DateTime"),
    (0x00080014, "U", "", "Instance Creator UID"),
    (0x04000600, "X", "", "Instance Origin Status"),
    (0x00080081, "X", "", "Institution Address"),
    (0x00081040, "X", "", "Institutional Department Name"),
    (0x00081041, "X", "", "Institutional Department Type Code Sequence"),
    (0x00080082, "X/Z/D", "", "Institution Code Sequence"),
    (0x00080080, "X/Z/D", "", "Institution Name"),
    (0x00101050, "X", "", "Insurance Plan Identification"),
    (0x3010004D, "X/D", "C", "Intended Phase End Date"),
    (0x3010004C, "X/D", "C", "Intended Phase Start Date"),
    (0x00401011, "X", "", "Intended Recipients of Results Identification Sequence"),
    (0x300A0741, "D", "C", "Interlock DateTime"),
    (0x300A0742, "D", "", "Interlock Description"),
    (0x300A0783, "D", "", "Interlock Origin Description"),
    (0x40080111, "X", "", "Interpretation Approver Sequence"),
    (0x4008010C, "X", "", "Interpretation Author"),
    (0x40080115, "X", "", "Interpretation Diagnosis Description"),
    (0x40080202, "X", "", "Interpretation ID Issuer"),
    (0x40080102, "X", "", "Interpretation Recorder"),
    (0x4008010B, "X", "", "Interpretation Text"),
    (0x4008010A, "X", "", "Interpretation Transcriber"),
    (0x00083010, "U", "", "Irradiation Event UID"),
    (0x00380011, "X", "", "Issuer of Admission ID"),
    (0x00380014, "X", "", "Issuer of Admission ID Sequence"),
    (0x00100021, "X", "", "Issuer of Patient ID"),
    (0x00380061, "X", "", "Issuer of Service Episode ID"),
    (0x00380064, "X", "", "Issuer of Service Episode ID Sequence"),
    (0x00400513, "Z", "", "Issuer of the Container Identifier Sequence"),
    (0x00400562, "Z", "", "Issuer of the Specimen Identifier Sequence"),
    (0x22000002, "X/Z", "", "Label Text"),
    (0x00281214, "U", "", "Large Palette Color Lookup Table UID"),
    (0x001021D0, "X", "C", "Last Menstrual Date"),
    (0x0016004F, "X", "", "Lens Make"),
    (0x00160050, "X", "", "Lens Model"),
    (0x00160051, "X", "", "Lens Serial Number"),
    (0x0016004E, "X", "", "Lens Specification"),
    (0x00500021, "X", "", "Long Device Description"),
    (0x04000404, "X", "", "MAC"),
    (0x0016002B, "X", "", "Maker Note"),
    (0x0018100B, "U", "", "Manufacturer's Device Class UID"),
    (0x30100043, "Z", "", "Manufacturer's Device Identifier"),
    (0x00020003, "U", "", "Media Storage SOP Instance UID"),
    (0x00102000, "X", "", "Medical Alerts"),
    (0x00101090, "X", "", "Medical Record Locator"),
    (0x00101080, "X", "", "Military Rank"),
    (0x04000550, "X", "", "Modified Attributes Sequence"),
    (0x00203406, "X", "", "Modified Image Description"),
    (0x00203401, "X", "", "Modifying Device ID"),
    (0x30080056, "X/D", "C", "Most Recent Treatment Date"),
    (0x0018937B, "X", "", "Multi-energy Acquisition Description"),
    (0x003A0310, "U", "", "Multiplex Group UID"),
    (0x00081060, "X", "", "Name of Physician(s) Reading Study"),
    (0x00401010, "X", "", "Names of Intended Recipients of Results"),
    (0x04000551, "X", "", "Nonconforming Modified Attributes Sequence"),
    (0x04000552, "X", "", "Nonconforming Data Element Value"),
    (0x0040A192, "X", "C", "Observation Date (Trial)"),
    (0x0040A402, "U", "", "Observation Subject UID (Trial)"),
    (0x0040A193, "X", "C", "Observation Time (Trial)"),
    (0x0040A171, "U", "", "Observation UID"),
    (0x00102180, "X", "", "Occupation"),
    (0x00081072, "X/D", "", "Operator Identification Sequence"),
    (0x00081070, "X/Z/D", "", "Operators' Name"),
    (0x00402010, "X", "", "Order Callback Phone Number"),
    (0x00402011, "X", "", "Order Callback Telecom Information"),
    (0x00402008, "X", "", "Order Entered By"),
    (0x00402009, "X", "", "Order Enterer's Location"),
    (0x04000561, "X", "", "Original Attributes Sequence"),
    (0x00101000, "X", "", "Other Patient IDs"),
    (0x00101002, "X", "", "Other Patient IDs Sequence"),
    (0x00101001, "X", "", "Other Patient Names"),
    (0x00080024, "X", "C", "Overlay Date"),
    (0x00080034, "X", "C", "Overlay Time"),
    (0x300A0760, "D", "C", "Override DateTime"),
    (0x00281199, "U", "", "Palette Color Lookup Table UID"),
    (0x0040A07A, "X", "", "Participant Sequence"),
    (0x00101040, "X", "", "Patient's Address"),
    (0x00101010, "X", "", "Patient's Age"),
    (0x00100030, "Z", "", "Patient's Birth Date"),
    (0x00101005, "X", "", "Patient's Birth Name"),
    (0x00100032, "X", "", "Patient's Birth Time"),
    (0x00380400, "X", "", "Patient's Institution Residence"),
    (0x00100050, "X", "", "Patient's Insurance Plan Code Sequence"),
    (0x00101060, "X", "", "Patient's Mother's Birth Name"),
    (0x00100010, "Z", "", "Patient's Name"),
    (0x00100101, "X", "", "Patient's Primary Language Code Sequence"),
    (0x00100102, "X", "", "Patient's Primary Language Modifier Code Sequence"),
    (0x001021F0, "X", "", "Patient's Religious Preference"),
    (0x00100040, "Z", "", "Patient's Sex"),
    (0x00102203, "X/Z", "", "Patient's Sex Neutered"),
    (0x00101020, "X", "", "Patient's Size"),
    (0x00102155, "X", "", "Patient's Telecom Information"),
    (0x00102154, "X", "", "Patient's Telephone Numbers"),
    (0x00101030, "X", "", "Patient's Weight"),
    (0x00104000, "X", "", "Patient Comments"),
    (0x00100020, "Z", "", "Patient ID"),
    (0x300A0650, "U", "", "Patient Setup UID"),
    (0x00380500, "X", "", "Patient State"),
    (0x00401004, "X", "", "Patient Transport Arrangements"),
    (0x00400243, "X", "", "Performed Location"),
    (0x00400254, "X", "", "Performed Procedure Step Description"),
    (0x00400250, "X", "C", "Performed Procedure Step End Date"),
    (0x00404051, "X", "C", "Performed Procedure Step End DateTime"),
    (0x00400251, "X", "C", "Performed Procedure Step End Time"),
    (0x00400253, "X", "", "Performed Procedure Step ID"),
    (0x00400244, "X", "C", "Performed Procedure Step Start Date"),
    (0x00404050, "X", "C", "Performed Procedure Step Start DateTime"),
    (0x00400245, "X", "C", "Performed Procedure Step Start Time"),
    (0x00400241, "X", "", "Performed Station AE Title"),
    (0x00404030, "X", "", "Performed Station Geographic Location Code Sequence"),
    (0x00400242, "X", "", "Performed Station Name"),
    (0x00404028, "X", "", "Performed Station Name Code Sequence"),
    (0x00081050, "X", "", "Performing Physician's Name"),
    (0x00081052, "X", "", "Performing Physician Identification Sequence"),
    (0x00401102, "X", "", "Person's Address"),
    (0x00401104, "X", "", "Person's Telecom Information"),
    (0x00401103, "X", "", "Person's Telephone Numbers"),
    (0x00401101, "D", "", "Person Identification Code Sequence"),
    (0x0040A123, "D", "", "Person Name"),
    (0x00081048, "X", "", "Physician(s) of Record"),
    (0x00081049, "X", "", "Physician(s) of Record Identification Sequence"),
    (0x00081062, "X", "", "Physician(s) Reading Study Identification Sequence"),
    (0x40080114, "X", "", "Physician Approving Interpretation"),
    (0x00402016, "Z", "", "Placer Order Number / Imaging Service Request"),
    (0x00181004, "X", "", "Plate ID"),
    (0x001021C0, "X", "", "Pregnancy Status"),
    (0x00400012, "X", "", "Pre-Medication"),
    (0x300A000E, "X", "", "Prescription Description"),
    (0x3010007B, "Z", "", "Prescription Notes"),
    (0x30100081, "Z", "", "Prescription Notes Sequence"),
    (0x00701101, "U", "", "Presentation Display Collection UID"),
    (0x00701102, "U", "", "Presentation Sequence Collection UID"),
    (0x30100061, "X", "", "Prior Treatment Dose Description"),
    (0x00404052, "X", "C", "Procedure Step Cancellation DateTime"),
    (0x00181030, "X/D", "", "Protocol Name"),
    (0x300A0619, "D", "", "Radiation Dose Identification Label"),
    (0x300A0623, "D", "", "Radiation Dose In-Vivo Measurement Label"),
    (0x300A067D, "Z", "", "Radiation Generation Mode Description"),
    (0x300A067C, "D", "", "Radiation Generation Mode Label"),
    (0x300C0113, "X", "", "Reason for Omission Description"),
    (0x0040100A, "X", "", "Reason for Requested Procedure Code Sequence"),
    (0x00321030, "X", "", "Reason for Study"),
    (0x3010005C, "Z", "", "Reason for Superseding"),
    (0x00402001, "X", "", "Reason for the Imaging Service Request"),
    (0x00401002, "X", "", "Reason for the Requested Procedure"),
    (0x00321066, "X", "", "Reason for Visit"),
    (0x00321067, "X", "", "Reason for Visit Code Sequence"),
    (0x300A073A, "D", "C", "Recorded RT Control Point DateTime"),
    (0x3010000B, "U", "", "Referenced Conceptual Volume UID"),
    (0x04000402, "X", "", "Referenced Digital Signature Sequence"),
    (0x300A0083, "U", "", "Referenced Dose Reference UID"),
    (0x3010006F, "U", "", "Referenced Dosimetric Objective UID"),
    (0x30100031, "U", "", "Referenced Fiducials UID"),
    (0x30060024, "U", "", "Referenced Frame of Reference UID"),
    (0x00404023, "U", "", "Referenced General Purpose Scheduled Procedure Step Transaction UID"),
    (0x00081140, "X/Z/U*", "", "Referenced Image Sequence"),
    (0x0040A172, "U", "", "Referenced Observation UID (Trial)"),
    (0x00380004, "X", "", "Referenced Patient Alias Sequence"),
    (0x00101100, "X", "", "Referenced Patient Photo Sequence"),
    (0x00081120, "X", "", "Referenced Patient Sequence"),
    (0x00081111, "X/Z/D", "", "Referenced Performed Procedure Step Sequence"),
    (0x04000403, "X", "", "Referenced SOP Instance MAC Sequence"),
    (0x00081155, "U", "", "Referenced SOP Instance UID"),
    (0x00041511, "U", "", "Referenced SOP Instance UID in File"),
    (0x00081110, "X/Z", "", "Referenced Study Sequence"),
    (0x00080092, "X", "", "Referring Physician's Address"),
    (0x00080090, "Z", "", "Referring Physician's Name"),
    (0x00080094, "X", "", "Referring Physician's Telephone Numbers"),
    (0x00080096, "X", "", "Referring Physician Identification Sequence"),
    (0x00102152, "X", "", "Region of Residence"),
    (0x300600C2, "U", "", "Related Frame of Reference UID"),
    (0x00400275, "X", "", "Request Attributes Sequence"),
    (0x00321070, "X", "", "Requested Contrast Agent"),
    (0x00401400, "X", "", "Requested Procedure Comments"),
    (0x00321060, "X/Z", "", "Requested Procedure Description"),
    (0x00401001, "X", "", "Requested Procedure ID"),
    (0x00401005, "X", "", "Requested Procedure Location"),
    (0x00189937, "X", "", "Requested Series Description"),
    (0x00001001, "U", "", "Requested SOP Instance UID"),
    (0x00321032, "X", "", "Requesting Physician"),
    (0x00321033, "X", "", "Requesting Service"),
    (0x00189185, "X", "", "Respiratory Motion Compensation Technique Description"),
    (0x00102299, "X", "", "Responsible Organization"),
    (0x00102297, "X", "", "Responsible Person"),
    (0x40084000, "X", "", "Results Comments"),
    (0x40080118, "X", "", "Results Distribution List Sequence"),
    (0x40080042, "X", "", "Results ID Issuer"),
    (0x300E0008, "X/Z", "", "Reviewer Name"),
    (0x30060028, "X", "", "ROI Description"),
    (0x30060038, "X", "", "ROI Generation Description"),
    (0x300600A6, "Z", "", "ROI Interpreter"),
    (0x30060026, "Z", "", "ROI Name"),
    (0x30060088, "X", "", "ROI Observation Description"),
    (0x30060085, "X", "", "ROI Observation Label"),
    (0x300A0615, "Z", "", "RT Accessory Device Slot ID"),
    (0x300A0611, "Z", "", "RT Accessory Holder Slot ID"),
    (0x3010005A, "Z", "", "RT Physician Intent Narrative"),
    (0x300A0006, "X/D", "C", "RT Plan Date"),
    (0x300A0004, "X", "", "RT Plan Description"),
    (0x300A0002, "D", "", "RT Plan Label"),
    (0x300A0003, "X", "", "RT Plan Name"),
    (0x300A0007, "X/D", "C", "RT Plan Time"),
    (0x30100054, "D", "", "RT Prescription Label"),
    (0x300A062A, "D", "", "RT Tolerance Set Label"),
    (0x30100056, "X/D", "", "RT Treatment Approach Label"),
    (0x3010003B, "U", "", "RT Treatment Phase UID"),
    (0x00404034, "X", "", "Scheduled Human Performers Sequence"),
    (0x0038001E, "X", "", "Scheduled Patient Institution Residence"),
    (0x00400006, "X", "", "Scheduled Performing Physician's Name"),
    (0x0040000B, "X", "", "Scheduled Performing Physician Identification Sequence"),
    (0x00400007, "X", "", "Scheduled Procedure Step Description"),
    (0x00400004, "X", "C", "Scheduled Procedure Step End Date"),
    (0x00400005, "X", "C", "Scheduled Procedure Step End Time"),
    (0x00404008, "X", "C", "Scheduled Procedure Step Expiration DateTime"),
    (0x00400009, "X", "", "Scheduled Procedure Step ID"),
    (0x00400011, "X", "", "Scheduled Procedure Step Location"),
    (0x00404010, "X", "C", "Scheduled Procedure Step Modification DateTime"),
    (0x00400002, "X", "C", "Scheduled Procedure Step Start Date"),
    (0x00404005, "X", "C", "Scheduled Procedure Step Start DateTime"),
    (0x00400003, "X", "C", "Scheduled Procedure Step Start Time"),
    (0x00400001, "X", "", "Scheduled Station AE Title"),
    (0x00404027, "X", "", "Scheduled Station Geographic Location Code Sequence"),
    (0x00400010, "X", "", "Scheduled Station Name"),
    (0x00404025, "X", "", "Scheduled Station Name Code Sequence"),
    (0x00321020, "X", "", "Scheduled Study Location"),
    (0x00321021, "X", "", "Scheduled Study Location AE Title"),
    (0x00080021, "X/D", "C", "Series Date"),
    (0x0008103E, "X", "", "Series Description"),
    (0x0020000E, "U", "", "Series Instance UID"),
    (0x00080031, "X/D", "C", "Series Time"),
    (0x00380062, "X", "", "Service Episode Description"),
    (0x00380060, "X", "", "Service Episode ID"),
    (0x300A01B2, "X", "", "Setup Technique Description"),
    (0x300A01A6, "X", "", "Shielding Device Description"),
    (0x004006FA, "X", "", "Slide Identifier"),
    (0x001021A0, "X", "", "Smoking Status"),
    (0x00080018, "U", "", "SOP Instance UID"),
    (0x30100015, "U", "", "Source Conceptual Volume UID"),
    (0x0018936A, "D", "C", "Source End DateTime"),
    (0x00340005, "D", "", "Source Identifier"),
    (0x00082112, "X/Z/U*", "", "Source Image Sequence"),
    (0x300A0216, "X", "", "Source Manufacturer"),
    (0x30080105, "X/Z", "", "Source Serial Number"),
    (0x00189369, "D", "C", "Source Start DateTime"),
    (0x00380050, "X", "", "Special Needs"),
    (0x0040050A, "X", "", "Specimen Accession Number"),
    (0x00400602, "X", "", "Specimen Detailed Description"),
    (0x00400551, "D", "", "Specimen Identifier"),
    (0x00400610, "Z", "", "Specimen Preparation Sequence"),
    (0x00400600, "X", "", "Specimen Short Description"),
    (0x00400554, "U", "", "Specimen UID"),
    (0x00189516, "X/D", "C", "Start Acquisition DateTime"),
    (0x00081010, "X/Z/D", "", "Station Name"),
    (0x00880140, "U", "", "Storage Media File-set UID"),
    (0x30060008, "Z", "C", "Structure Set Date"),
    (0x30060006, "X", "", "Structure Set Description"),
    (0x30060002, "D", "", "Structure Set Label"),
    (0x30060004, "X", "", "Structure Set Name"),
    (0x30060009, "X/D", "C", "Structure Set Time"),
    (0x00324000, "X", "", "Study Comments"),
    (0x00080020, "Z", "C", "Study Date"),
    (0x00081030, "X", "", "Study Description"),
    (0x00200010, "Z", "", "Study ID"),
    (0x00320012, "X", "", "Study ID Issuer"),
    (0x0020000D, "U", "", "Study Instance UID"),
    (0x00080030, "Z", "C", "Study Time"),
    (0x00200200, "U", "", "Synchronization Frame of Reference UID"),
    (0x00182042, "U", "", "Target UID"),
    (0x0040A354, "X", "", "Telephone Number (Trial)"),
    (0x0040DB0D, "U", "", "Template Extension Creator UID"),
    (0x0040DB0C, "U", "", "Template Extension Organization UID"),
    (0x40004000, "X", "", "Text Comments"),
    (0x20300020, "X", "", "Text String"),
    (0x00080201, "X", "C", "Timezone Offset From UTC"),
    (0x00880910, "X", "", "Topic Author"),
    (0x00880912, "X", "", "Topic Keywords"),
    (0x00880906, "X", "", "Topic Subject"),
    (0x00880904, "X", "", "Topic Title"),
    (0x00620021, "U", "", "Tracking UID"),
    (0x00081195, "U", "", "Transaction UID"),
    (0x00185011, "X", "", "Transducer Identification Sequence"),
    (0x30080250, "X/D", "C", "Treatment Date"),
    (0x300A00B2, "X", "", "Treatment Machine Name"),
    (0x300A0608, "D", "", "Treatment Position Group Label"),
    (0x300A0609, "U", "", "Treatment Position Group UID"),
    (0x300A0700, "U", "", "Treatment Session UID"),
    (0x30100077, "D", "", "Treatment Site"),
    (0x3010007A, "Z", "", "Treatment Technique Notes"),
    (0x30080251, "X/D", "C", "Treatment Time"),
    (0x300A0736, "D", "C", "Treatment Tolerance Violation DateTime"),
    (0x300A0734, "D", "", "Treatment Tolerance Violation Description"),
    (0x0018100A, "X", "", "UDI Sequence"),
    (0x0040A124, "U", "", "UID"),
    (0x00181009, "X", "", "Unique Device Identifier"),
    (0x30100033, "D", "", "User Content Label"),
    (0x30100034, "D", "", "User Content Long Label"),
    (0x0040A352, "X", "", "Verbal Source (Trial)"),
    (0x0040A358, "X", "", "Verbal Source Identifier Code Sequence (Trial)"),
    (0x0040A088, "Z", "", "Verifying Observer Identification Code Sequence"),
    (0x0040A075, "D", "", "Verifying Observer Name"),
    (0x0040A073, "D", "", "Verifying Observer Sequence"),
    (0x0040A027, "D", "", "Verifying Organization"),
    (0x00384000, "X", "", "Visit Comments"),
    (0x00189371, "D", "", "X-Ray Detector ID"),
    (0x00189373, "X", "", "X-Ray Detector Label"),
    (0x00189367, "D", "", "X-Ray Source ID"),
)

BASIC_PROFILE_RULES: dict[int, ProfileRule] = {
    row[0]: ProfileRule(tag=row[0], action=row[1], modified_dates=row[2], name=row[3])
    for row in _TABLE_E1_1
}

# --- The options' columns of Table E.1-1 (PS3.15 E.3) ---------------------------------------
# Transcribed, like `_TABLE_E1_1`, from a 2020s edition of PS3.15 (rows that appear in
# that table only); compare with the current edition when updating.
# Rows marked "K" in the Retain Device Identity Option column (E.3.8).
RETAIN_DEVICE_IDENTITY_TAGS = frozenset(
    {
        0x00181007,  # Cassette ID
        0x0018700A,  # Detector ID
        0x3010001B,  # Device Alternate Identifier
        0x00500020,  # Device Description
        0x3010002D,  # Device Label
        0x00181000,  # Device Serial Number
        0x00181002,  # Device UID
        0x00181008,  # Gantry ID
        0x00181005,  # Generator ID
        0x00160051,  # Lens Serial Number
        0x00500021,  # Long Device Description
        0x0018100B,  # Manufacturer's Device Class UID
        0x30100043,  # Manufacturer's Device Identifier
        0x00400241,  # Performed Station AE Title
        0x00404030,  # Performed Station Geographic Location Code Sequence
        0x00400242,  # Performed Station Name
        0x00404028,  # Performed Station Name Code Sequence
        0x00181004,  # Plate ID
        0x00400001,  # Scheduled Station AE Title
        0x00404027,  # Scheduled Station Geographic Location Code Sequence
        0x00400010,  # Scheduled Station Name
        0x00404025,  # Scheduled Station Name Code Sequence
        0x00321020,  # Scheduled Study Location
        0x00321021,  # Scheduled Study Location AE Title
        0x30080105,  # Source Serial Number
        0x00081010,  # Station Name
        0x00185011,  # Transducer Identification Sequence
        0x300A00B2,  # Treatment Machine Name
        0x0018100A,  # UDI Sequence
        0x00181009,  # Unique Device Identifier
        0x00189371,  # X-Ray Detector ID
        0x00189373,  # X-Ray Detector Label
        0x00189367,  # X-Ray Source ID
    }
)
# Rows marked "K" in the Retain Institution Identity Option column (E.3.11).
RETAIN_INSTITUTION_IDENTITY_TAGS = frozenset(
    {
        0x00080081,  # Institution Address
        0x00080082,  # Institution Code Sequence
        0x00080080,  # Institution Name
        0x00081040,  # Institutional Department Name
        0x00081041,  # Institutional Department Type Code Sequence
    }
)
# Rows marked "K" in the Retain Patient Characteristics Option column (E.3.7).
RETAIN_PATIENT_CHARACTERISTICS_TAGS = frozenset(
    {
        0x00102160,  # Ethnic Group
        0x00101010,  # Patient's Age
        0x00100040,  # Patient's Sex
        0x00102203,  # Patient's Sex Neutered
        0x00101020,  # Patient's Size
        0x00101030,  # Patient's Weight
        0x001021C0,  # Pregnancy Status
        0x001021A0,  # Smoking Status
    }
)
# Rows marked "C" in the Clean Descriptors Option column (E.3.5).
CLEAN_DESCRIPTORS_TAGS = frozenset(
    {
        0x00184000,  # Acquisition Comments
        0x00181400,  # Acquisition Device Processing Description
        0x00189424,  # Acquisition Protocol Description
        0x001021B0,  # Additional Patient History
        0x00081084,  # Admitting Diagnoses Code Sequence
        0x00081080,  # Admitting Diagnoses Description
        0x00102110,  # Allergies
        0x00400310,  # Comments on Radiation Dose
        0x00400280,  # Comments on the Performed Procedure Step
        0x00180010,  # Contrast/Bolus Agent
        0x00082111,  # Derivation Description
        0x00380040,  # Discharge Diagnosis Description
        0x300A0196,  # Fixation Device Description
        0x3010007F,  # Fractionation Notes
        0x300A0072,  # Fraction Group Description
        0x00209158,  # Frame Comments
        0x00084000,  # Identifying Comments
        0x00204000,  # Image Comments
        0x00284000,  # Image Presentation Comments
        0x00402400,  # Imaging Service Request Comments
        0x00102000,  # Medical Alerts
        0x00104000,  # Patient Comments
        0x00380500,  # Patient State
        0x00400254,  # Performed Procedure Step Description
        0x00181030,  # Protocol Name
        0x0040100A,  # Reason for Requested Procedure Code Sequence
        0x00321030,  # Reason for Study
        0x00402001,  # Reason for the Imaging Service Request
        0x00401002,  # Reason for the Requested Procedure
        0x00321066,  # Reason for Visit
        0x00321067,  # Reason for Visit Code Sequence
        0x00401400,  # Requested Procedure Comments
        0x00321060,  # Requested Procedure Description
        0x40084000,  # Results Comments
        0x00400007,  # Scheduled Procedure Step Description
        0x0008103E,  # Series Description
        0x00380062,  # Service Episode Description
        0x00380050,  # Special Needs
        0x00324000,  # Study Comments
        0x00081030,  # Study Description
        0x00384000,  # Visit Comments
    }
)

# PS3.15 Table E.3.10-1 "Safe Private Attributes" (the rows for CT and PET vendors):
# (group, private creator, element offset within the block) -> meaning.
SAFE_PRIVATE_ATTRIBUTES: dict[tuple[int, str, int], str] = {
    (0x7053, "Philips PET Private Group", 0x00): "SUV Factor",
    (0x7053, "Philips PET Private Group", 0x09): "Activity Concentration Factor",
    (0x00E1, "ELSCINT1", 0x21): "DLP",
    (0x00E1, "ELSCINT1", 0x50): "Acquisition Duration",
    (0x01F1, "ELSCINT1", 0x07): "Table Velocity",
    (0x01F1, "ELSCINT1", 0x26): "Pitch",
    (0x01F1, "ELSCINT1", 0x27): "Rotation Time",
    (0x0019, "GEMS_ACQU_01", 0x23): "Table Speed [mm/rotation]",
    (0x0019, "GEMS_ACQU_01", 0x24): "Mid Scan Time [sec]",
    (0x0019, "GEMS_ACQU_01", 0x27): "Rotation Speed (Gantry Period)",
    (0x0019, "GEMS_ACQU_01", 0x9E): "Internal Pulse Sequence Name",
    (0x0025, "GEMS_SERS_01", 0x07): "Images in Series",
    (0x0043, "GEMS_PARM_01", 0x27): "Scan Pitch Ratio",
    (0x0043, "GEMS_PARM_01", 0x39): "B Value (the first of four values)",
    (0x0043, "GEMS_PARM_01", 0x6F): "Scanner Table Entry + Gradient Coil Selected",
    (0x0045, "GEMS_HELIOS_01", 0x01): "Number of Macro Rows in Detector",
    (0x0045, "GEMS_HELIOS_01", 0x02): "Macro width at ISO Center",
}


@dataclass(frozen=True)
class PixelRegion:
    """A rectangle of the image, in pixels: rows top..bottom-1, columns left..right-1."""

    top: int
    left: int
    bottom: int
    right: int

    def describe(self) -> str:
        return (
            f"rows {self.top}-{self.bottom - 1}, columns {self.left}-{self.right - 1}"
            f" ({self.bottom - self.top} x {self.right - self.left} pixels)"
        )


@dataclass(frozen=True)
class PixelRegionBlanked:
    """One rectangle the Clean Pixel Data option blanked, and why."""

    region: PixelRegion
    reason: str  # "text detected at the top-left", "configured region"
    pixels_changed: int


@dataclass(frozen=True)
class ProfileOptions:
    """The PS3.15 Annex E options applied on top of the Basic Profile; all off by default.

    `date_offset_days` chooses Retain Longitudinal Temporal Information with Modified Dates
    (the shift in days); `retain_full_dates` the Full Dates variant; the two exclude each
    other. `pixel_regions` are blanked by Clean Pixel Data in addition to what it detects.
    """

    retain_safe_private: bool = False
    retain_uids: bool = False
    retain_device_identity: bool = False
    retain_institution_identity: bool = False
    retain_patient_characteristics: bool = False
    retain_full_dates: bool = False
    date_offset_days: int | None = None
    clean_descriptors: bool = False
    clean_pixel_data: bool = False
    pixel_regions: tuple[PixelRegion, ...] = ()

    def __post_init__(self) -> None:
        if self.retain_full_dates and self.date_offset_days is not None:
            raise ValueError(
                "Choose either full dates or modified dates: PS3.15 E.3.6 offers them as "
                "alternatives."
            )

    @property
    def retain_modified_dates(self) -> bool:
        return self.date_offset_days is not None


@dataclass(frozen=True)
class ProfileOption:
    """How the UI and the method record name one option (codes: PS3.16 CID 7050)."""

    key: str  # a ProfileOptions field name ("retain_modified_dates" sets date_offset_days)
    title: str
    section: str
    code: tuple[str, str]
    summary: str


PROFILE_OPTIONS: tuple[ProfileOption, ...] = (
    ProfileOption(
        "retain_safe_private",
        "Retain Safe Private",
        "E.3.10",
        ("113111", "Retain Safe Private Option"),
        "Keeps private attributes known to be safe (Table E.3.10-1); removes all others.",
    ),
    ProfileOption(
        "retain_uids",
        "Retain UIDs",
        "E.3.9",
        ("113110", "Retain UIDs Option"),
        "Keeps the original study, series, instance and frame of reference UIDs.",
    ),
    ProfileOption(
        "retain_device_identity",
        "Retain Device Identity",
        "E.3.8",
        ("113109", "Retain Device Identity Option"),
        "Keeps station name, device serial number and other device identifiers.",
    ),
    ProfileOption(
        "retain_institution_identity",
        "Retain Institution Identity",
        "E.3.11",
        ("113112", "Retain Institution Identity Option"),
        "Keeps the institution's name, address and department.",
    ),
    ProfileOption(
        "retain_patient_characteristics",
        "Retain Patient Characteristics",
        "E.3.7",
        ("113108", "Retain Patient Characteristics Option"),
        "Keeps age, sex, size, weight and other physical characteristics.",
    ),
    ProfileOption(
        "retain_full_dates",
        "Retain Longitudinal Temporal Information with Full Dates",
        "E.3.6",
        ("113106", "Retain Longitudinal Temporal Information Full Dates Option"),
        "Keeps every date and time as it was.",
    ),
    ProfileOption(
        "retain_modified_dates",
        "Retain Longitudinal Temporal Information with Modified Dates",
        "E.3.6",
        CODE_MODIFIED_DATES,
        "Moves every date by the same secret number of days, keeping the intervals.",
    ),
    ProfileOption(
        "clean_descriptors",
        "Clean Descriptors",
        "E.3.5",
        ("113105", "Clean Descriptors Option"),
        "Keeps free-text descriptions and comments with identifying text taken out.",
    ),
    ProfileOption(
        "clean_pixel_data",
        "Clean Pixel Data",
        "E.3.1",
        ("113101", "Clean Pixel Data Option"),
        "Finds text burned into the image corners and blanks it.",
    ),
)
PROFILE_OPTIONS_BY_KEY = {option.key: option for option in PROFILE_OPTIONS}


def _option_action(rule: ProfileRule, options: ProfileOptions) -> tuple[str, str] | None:
    """("K" or "C", the option's name) when a chosen option overrides the Basic action."""
    tag = rule.tag
    if options.retain_uids and "U" in rule.action:
        return "K", "retain UIDs option"
    if options.retain_device_identity and tag in RETAIN_DEVICE_IDENTITY_TAGS:
        return "K", "retain device identity option"
    if options.retain_institution_identity and tag in RETAIN_INSTITUTION_IDENTITY_TAGS:
        return "K", "retain institution identity option"
    if options.retain_patient_characteristics and tag in RETAIN_PATIENT_CHARACTERISTICS_TAGS:
        return "K", "retain patient characteristics option"
    if options.retain_full_dates and rule.modified_dates == "C":
        return "K", "retain full dates option"
    if options.clean_descriptors and tag in CLEAN_DESCRIPTORS_TAGS:
        return "C", "clean descriptors option"
    return None


# File Meta Information (PS3.10 7.1) that names the sending system.
_FILE_META_IDENTIFYING = (0x00020016, 0x00020017, 0x00020018, 0x00020100, 0x00020102)

# SOP Classes whose pixels are typically screen or video captures with text in them.
_SECONDARY_CAPTURE_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.7",
        "1.2.840.10008.5.1.4.1.1.7.1",
        "1.2.840.10008.5.1.4.1.1.7.2",
        "1.2.840.10008.5.1.4.1.1.7.3",
        "1.2.840.10008.5.1.4.1.1.7.4",
    }
)
_ULTRASOUND_CLASSES = frozenset({"1.2.840.10008.5.1.4.1.1.6.1", "1.2.840.10008.5.1.4.1.1.3.1"})

# Dummy values for the D action, per VR; they only need to be valid and non-identifying.
_DUMMY_TEXT = "ANONYMIZED"
_DUMMY_BY_VR: dict[str, object] = {
    "PN": "Anonymized^",  # with the caret: a bare name is the retired PN form
    "DA": "19000101",
    "TM": "000000",
    "DT": "19000101000000",
    "AS": "000D",
    "IS": "0",
    "DS": "0",
    "US": 0,
    "SS": 0,
    "UL": 0,
    "SL": 0,
    "UV": 0,
    "SV": 0,
    "FL": 0.0,
    "FD": 0.0,
}


def uid_from_key(*parts: object) -> UID:
    """Return the same UUID-derived UID (PS3.5 B.2, root 2.25) for the same key parts.

    Use this for objects we create (library series, instances) so that rebuilding from the
    same input reproduces the same UIDs. The parts are joined unambiguously.
    """
    name = "\x1f".join(str(part) for part in parts)
    return UID(f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, 'artefact:' + name).int}")


class UidMap:
    """Replacement UIDs for the U action (PS3.15 E.1.1), consistent and deterministic.

    The same original UID always maps to the same replacement within one namespace, so the
    instances of a study keep referencing each other (a SEG its CT, a series its study), and
    rebuilding reproduces the same UIDs. Different namespaces give unrelated replacements,
    so de-identifying one source for two studies does not link them. Anyone who knows the
    namespace and guesses an original UID can confirm the guess: where that matters (uploads),
    derive the namespace from a secret.
    """

    def __init__(self, *, namespace: str) -> None:
        if not namespace:
            raise ValueError("A UidMap needs a non-empty namespace.")
        self.namespace = namespace
        self._replacements: dict[str, str] = {}

    def uid_replacement(self, uid: str) -> str:
        """Return the replacement for `uid` (an empty UID stays empty)."""
        original = str(uid).strip().rstrip("\x00")
        if not original:
            return ""
        if original not in self._replacements:
            digest = hashlib.sha256(f"{self.namespace}\x1f{original}".encode()).digest()
            # A name-based UUID (RFC 4122 v5 layout) turned into a 2.25 UID, PS3.5 B.2.
            replacement = uuid.UUID(bytes=digest[:16], version=5)
            self._replacements[original] = f"2.25.{replacement.int}"
        return self._replacements[original]

    def replacements(self) -> dict[str, str]:
        """A copy of every original -> replacement pair handed out so far."""
        return dict(self._replacements)

    def __len__(self) -> int:
        return len(self._replacements)


@dataclass(frozen=True)
class AttributeAction:
    """What happened to one attribute; `path` names nested items, e.g. `SourceImageSequence[0].
    ReferencedSOPInstanceUID`. Values are never recorded: the report must not leak them."""

    path: str
    keyword: str
    outcome: Outcome
    rule: str  # the Table E.1-1 action, or "private", "overlay", "curve", "group length",
    #           "modified dates option", "not in profile"


@dataclass
class DeidentificationReport:
    """The record of one `dataset_deidentify` call."""

    actions: list[AttributeAction] = field(default_factory=list)
    burned_in_annotation_reasons: list[str] = field(default_factory=list)
    date_offset_days: int | None = None
    options: ProfileOptions = field(default_factory=lambda: ProfileOptions())
    # Clean Pixel Data: what was blanked, and anything that stopped the cleaning.
    pixel_regions_blanked: list[PixelRegionBlanked] = field(default_factory=list)
    pixel_cleaning_notes: list[str] = field(default_factory=list)

    @property
    def needs_review(self) -> bool:
        return bool(self.burned_in_annotation_reasons)

    @property
    def review_status(self) -> str:
        return REVIEW_STATUS_QUARANTINE if self.needs_review else REVIEW_STATUS_CLEAN

    def keywords_with(self, outcome: Outcome) -> list[str]:
        """Keywords (or tag strings) of the attributes that had `outcome`, in order, once each."""
        return list(dict.fromkeys(a.keyword for a in self.actions if a.outcome == outcome))

    def action_for(self, keyword: str) -> AttributeAction | None:
        """The first action recorded for a top-level or nested attribute with `keyword`."""
        return next((a for a in self.actions if a.keyword == keyword), None)


def burned_in_annotation_risk(ds: Dataset) -> list[str]:
    """Reasons to suspect text burned into the pixels; an empty list means none found.

    Burned In Annotation (0028,0301) YES is always a reason. Ultrasound, secondary capture
    and SECONDARY images routinely carry burned-in names, dates and institutions, so they
    are suspected unless the instance states Burned In Annotation NO explicitly.
    """
    burned_in = str(ds.get("BurnedInAnnotation", "")).strip().upper()
    if burned_in == "YES":
        return ["BurnedInAnnotation is YES"]
    if burned_in == "NO":
        return []
    reasons = []
    sop_class = str(ds.get("SOPClassUID", ""))
    modality = str(ds.get("Modality", "")).upper()
    if modality in {"US", "IVUS"} or sop_class in _ULTRASOUND_CLASSES:
        reasons.append("ultrasound without BurnedInAnnotation NO: scanners burn in text")
    if sop_class in _SECONDARY_CAPTURE_CLASSES:
        reasons.append("secondary capture without BurnedInAnnotation NO")
    image_type = [str(v).upper() for v in _values(ds.get("ImageType", None))]
    if "SECONDARY" in image_type:
        reasons.append("ImageType SECONDARY without BurnedInAnnotation NO")
    return reasons


def dataset_deidentify(
    ds: Dataset,
    *,
    uid_map: UidMap,
    date_offset_days: int | None = None,
    options: ProfileOptions | None = None,
) -> DeidentificationReport:
    """De-identify `ds` IN PLACE with the Basic Profile (and `options`) and return what was done.

    Precondition: `ds` is a complete composite instance read with pydicom (file meta, if
    present, is updated too). Pass the same `uid_map` for every instance of a study so that
    references stay consistent; pass `date_offset_days` (same value for the whole study) to
    use the Retain Longitudinal Temporal Information with Modified Dates option instead of
    removing dates, or a `ProfileOptions` for any combination of the options (not both).
    Copy the dataset first if the original is still needed. Changed elements and sequences
    are replaced by new objects, never edited in place, so other datasets that share element
    objects with `ds` (highdicom builds SEGs that way) are left untouched.

    Afterwards the dataset states Patient Identity Removed YES, the method (text and CID 7050
    codes) and Longitudinal Temporal Information Modified (PS3.3 C.7.1.1, C.12.1).
    """
    if options is None:
        options = ProfileOptions(date_offset_days=date_offset_days)
    elif date_offset_days is not None:
        raise ValueError("Give the date offset inside `options`, not beside it.")
    report = DeidentificationReport(
        burned_in_annotation_reasons=burned_in_annotation_risk(ds),
        date_offset_days=options.date_offset_days,
        options=options,
    )
    run = _DeidentificationRun(
        uid_map=uid_map,
        date_offset_days=options.date_offset_days,
        report=report,
        options=options,
        identifiers=_identifiers_pattern(ds) if options.clean_descriptors else None,
    )
    _dataset_elements_deidentify(ds, path="", run=run)
    _file_meta_deidentify(ds, uid_map=uid_map, report=report, retain_uids=options.retain_uids)
    if options.clean_pixel_data:
        blanked, notes = pixel_data_clean(ds, regions=options.pixel_regions)
        report.pixel_regions_blanked.extend(blanked)
        report.pixel_cleaning_notes.extend(notes)
    _deidentification_method_record(ds, options=options)
    return report


@dataclass
class _DeidentificationRun:
    """State of one `dataset_deidentify` call."""

    uid_map: UidMap
    date_offset_days: int | None
    report: DeidentificationReport
    options: ProfileOptions = field(default_factory=lambda: ProfileOptions())
    # Clean Descriptors: the instance's own identifiers, as one case-insensitive pattern.
    identifiers: re.Pattern[str] | None = None
    # Sequence items already cleaned. Datasets built in memory (e.g. by highdicom) may share
    # one item object between several sequences; cleaning it twice would map its UIDs twice.
    # The items are held (not only their ids) so that no id is reused during the run.
    visited_items: dict[int, Dataset] = field(default_factory=dict)


def _dataset_elements_deidentify(ds: Dataset, *, path: str, run: _DeidentificationRun) -> None:
    if id(ds) in run.visited_items:
        return
    run.visited_items[id(ds)] = ds
    safe_private = _safe_private_tags(ds) if run.options.retain_safe_private else frozenset()
    for tag in list(ds.keys()):
        if int(tag) in safe_private:
            run.report.actions.append(
                AttributeAction(
                    path=f"{path}{tag}",
                    keyword=str(tag),
                    outcome="kept",
                    rule="retain safe private option",
                )
            )
            continue
        _element_deidentify(ds, tag=tag, path=path, run=run)


def _element_deidentify(ds: Dataset, *, tag: BaseTag, path: str, run: _DeidentificationRun) -> None:
    elem = ds[tag]
    keyword = elem.keyword or str(tag)
    where = f"{path}{keyword}"
    if elem.VR == "SQ":
        # Clean a private copy: datasets built in memory (highdicom copies attributes from
        # its source images) can share sequences with other instances of the study.
        elem = _element_replace(ds, elem=elem, value=copy.deepcopy(elem.value))

    def record(outcome: Outcome, rule: str) -> None:
        run.report.actions.append(
            AttributeAction(path=where, keyword=keyword, outcome=outcome, rule=rule)
        )

    def remove(rule: str) -> None:
        del ds[tag]
        record("removed", rule)

    def items_deidentify() -> None:
        for index, item in enumerate(elem.value or []):
            _dataset_elements_deidentify(item, path=f"{where}[{index}].", run=run)

    if tag.group == 0x0000 or tag.element == 0x0000:
        # Command elements do not belong in a stored dataset; group lengths are retired
        # (PS3.5 7.2) and would be wrong after our edits.
        return remove("group length")
    if tag.is_private:
        return remove("private")
    if 0x5000 <= tag.group <= 0x501E and tag.group % 2 == 0:
        return remove("curve")
    if 0x6000 <= tag.group <= 0x601E and tag.group % 2 == 0:
        return remove("overlay")

    rule = BASIC_PROFILE_RULES.get(int(tag))
    override = _option_action(rule, run.options) if rule is not None else None
    if override is not None:
        action, option_name = override
        if action == "K":
            return record("kept", option_name)
        if elem.VR == "SQ":
            # Coded descriptors (e.g. Reason for Visit Code Sequence): the items are cleaned
            # by the table first, then their remaining text is cleaned like any descriptor.
            items_deidentify()
            for item in elem.value or []:
                _descriptors_clean_in(item, run=run)
            return record("descriptor_cleaned", option_name)
        return record(_descriptor_clean(ds, elem=elem, run=run), option_name)
    if rule is None:
        if elem.VR == "SQ":
            items_deidentify()
        elif run.date_offset_days is not None and elem.VR in {"DA", "DT"}:
            # Dates the table does not list (Instance Creation Date, ...) would reveal the
            # real dates beside the shifted ones: move them too.
            return record(
                _date_shift(ds, elem=elem, days=run.date_offset_days), "modified dates option"
            )
        return record("kept", "not in profile")

    if run.date_offset_days is not None and rule.modified_dates == "C":
        return record(
            _date_shift(ds, elem=elem, days=run.date_offset_days), "modified dates option"
        )

    action = _compound_action_resolve(rule.action, elem)
    if action == "X":
        return remove(rule.action)
    if action == "Z":
        _element_replace(ds, elem=elem, value=_empty_value(elem.VR))
        return record("emptied", rule.action)
    if action == "U" or (action == "D" and elem.VR == "UI"):
        _element_replace(ds, elem=elem, value=_uids_replaced(elem, uid_map=run.uid_map))
        return record("uid_replaced", rule.action)
    if action in {"D", "U*"} and elem.VR == "SQ":
        # A sequence stays (the IOD may require it); its items are cleaned by the same table.
        items_deidentify()
        return record("cleaned", rule.action)
    if action == "D":
        dummy = _DUMMY_BY_VR.get(elem.VR, b"" if elem.VR in _BINARY_VRS else _DUMMY_TEXT)
        _element_replace(ds, elem=elem, value=dummy)
        return record("replaced", rule.action)
    raise AssertionError(f"unhandled action {action!r} for {where}")  # pragma: no cover


_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
_TEXT_VRS = frozenset(
    {
        "AE",
        "AS",
        "CS",
        "DA",
        "DS",
        "DT",
        "IS",
        "LO",
        "LT",
        "PN",
        "SH",
        "ST",
        "TM",
        "UC",
        "UI",
        "UR",
        "UT",
    }
)


def _empty_value(vr: str) -> object:
    """A zero-length value (Z): empty sequence, empty string, or no value for binary VRs."""
    if vr == "SQ":
        return []
    return "" if vr in _TEXT_VRS else None


def _compound_action_resolve(action: str, elem: DataElement) -> str:
    """Pick one action from a compound Table E.1-1 action; see the module docstring."""
    options = action.split("/")
    if len(options) == 1:
        return options[0]
    empty = elem.is_empty
    if elem.VR == "SQ" and "U*" in options and not empty:
        return "U*"
    if "D" in options and not empty:
        return "D"
    if "Z" in options:
        return "Z"
    return "X"


def _element_replace(ds: Dataset, *, elem: DataElement, value: object) -> DataElement:
    """Put a new element in `ds` instead of changing `elem`, which other datasets may share."""
    replacement = DataElement(elem.tag, elem.VR, value)
    ds[elem.tag] = replacement
    return replacement


def _uids_replaced(elem: DataElement, *, uid_map: UidMap) -> object:
    if elem.is_empty:
        return elem.value
    if isinstance(elem.value, MultiValue | list):
        return [uid_map.uid_replacement(v) for v in elem.value]
    return uid_map.uid_replacement(elem.value)


def _date_shift(ds: Dataset, *, elem: DataElement, days: int) -> Outcome:
    """Move DA and DT values by `days`; other VRs (TM, the UTC offset) are kept as they are."""
    if elem.VR not in {"DA", "DT"} or elem.is_empty:
        return "kept"
    shifted = [_date_text_shift(str(v), days=days, vr=elem.VR) for v in _values(elem.value)]
    if any(v is None for v in shifted):
        # A partial or malformed date cannot be moved exactly: drop it rather than leak it.
        _element_replace(ds, elem=elem, value="")
        return "emptied"
    _element_replace(ds, elem=elem, value=shifted if len(shifted) > 1 else shifted[0])
    return "date_shifted"


def _date_text_shift(text: str, *, days: int, vr: str) -> str | None:
    text = text.strip()
    date_part, rest = text[:8], text[8:]
    if len(date_part) != 8 or not date_part.isdigit():
        return None
    try:
        date = dt.datetime.strptime(date_part, "%Y%m%d").date()
    except ValueError:
        return None
    moved = (date + dt.timedelta(days=days)).strftime("%Y%m%d")
    return moved + rest if vr == "DT" else moved


def _values(value: object) -> Iterator[object]:
    if value is None or value == "":
        return iter(())
    if isinstance(value, MultiValue | list | tuple):
        return iter(value)
    return iter((value,))


def _file_meta_deidentify(
    ds: Dataset, *, uid_map: UidMap, report: DeidentificationReport, retain_uids: bool = False
) -> None:
    meta = getattr(ds, "file_meta", None)
    if meta is None:
        return
    if "MediaStorageSOPInstanceUID" in meta and not retain_uids:
        _element_replace(
            meta,
            elem=meta["MediaStorageSOPInstanceUID"],
            value=uid_map.uid_replacement(meta.MediaStorageSOPInstanceUID),
        )
        report.actions.append(
            AttributeAction(
                path="file_meta.MediaStorageSOPInstanceUID",
                keyword="MediaStorageSOPInstanceUID",
                outcome="uid_replaced",
                rule="U",
            )
        )
    for tag in _FILE_META_IDENTIFYING:
        if tag in meta:
            keyword = keyword_for_tag(tag) or f"{tag:08X}"
            del meta[tag]
            report.actions.append(
                AttributeAction(
                    path=f"file_meta.{keyword}", keyword=keyword, outcome="removed", rule="X"
                )
            )


def _deidentification_method_record(ds: Dataset, *, options: ProfileOptions) -> None:
    ds.PatientIdentityRemoved = "YES"
    methods = [DEIDENTIFICATION_METHOD]
    codes = [CODE_BASIC_PROFILE]
    for option in PROFILE_OPTIONS:
        if getattr(options, option.key):
            # The Modified Dates text predates the other options; existing files carry it.
            methods.append(
                DEIDENTIFICATION_METHOD_MODIFIED_DATES
                if option.key == "retain_modified_dates"
                else option.title[:64]
            )
            codes.append(option.code)
    ds.DeidentificationMethod = methods
    items = []
    for value, meaning in codes:
        item = Dataset()
        item.CodeValue = value
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = meaning
        items.append(item)
    ds.DeidentificationMethodCodeSequence = Sequence(items)
    # PS3.3 C.12.1 and PS3.15 E.3.6: tells a reader whether dates can be compared with
    # other studies.
    if options.retain_full_dates:
        ds.LongitudinalTemporalInformationModified = "UNMODIFIED"
    elif options.retain_modified_dates:
        ds.LongitudinalTemporalInformationModified = "MODIFIED"
    else:
        ds.LongitudinalTemporalInformationModified = "REMOVED"


# --- Retain Safe Private (E.3.10) -----------------------------------------------------------


def _safe_private_tags(ds: Dataset) -> frozenset[int]:
    """Private tags of `ds` listed in Table E.3.10-1, with the creator elements they need."""
    keep: set[int] = set()
    for elem in ds:
        tag = elem.tag
        if not tag.is_private or tag.element < 0x1000:
            continue
        block = tag.element >> 8
        creator_tag = (tag.group << 16) | block
        if creator_tag not in ds:
            continue
        creator = str(ds[creator_tag].value).strip()
        if (tag.group, creator, tag.element & 0xFF) in SAFE_PRIVATE_ATTRIBUTES:
            keep.update({int(tag), creator_tag})
    return frozenset(keep)


# --- Clean Descriptors (E.3.5) --------------------------------------------------------------

_DESCRIPTOR_REMOVED = "[removed]"
# Identifier-shaped tokens: any run of 5+ digits (MRNs, phone numbers, accession numbers),
# codes mixing letters and 4+ digits ("NWG-00482913"), written dates, and "Dr Name".
_IDENTIFIER_SHAPES = re.compile(
    r"\b(?:[A-Z]{1,5}[-/]?)?\d[\d\-/.]{3,}\d\b"
    r"|\b(?:dr|doctor|prof)\.?\s+[A-Z][\w'-]+",
    re.IGNORECASE,
)
# Where an instance names people, organisations and devices (values read before cleaning).
_IDENTIFIER_SOURCE_TAGS = frozenset(
    tag
    for tag, rule in BASIC_PROFILE_RULES.items()
    if tag not in CLEAN_DESCRIPTORS_TAGS and "U" not in rule.action
)


def _identifiers_pattern(ds: Dataset) -> re.Pattern[str] | None:
    """One pattern matching every identifying value the instance carries, in any item."""
    found: set[str] = set()

    def collect(dataset: Dataset) -> None:
        for elem in dataset:
            if elem.VR == "SQ":
                for item in elem.value or []:
                    collect(item)
                continue
            identifying = (
                int(elem.tag) in _IDENTIFIER_SOURCE_TAGS or elem.VR == "PN" or elem.tag.is_private
            )
            if not identifying or elem.VR not in _TEXT_VRS or elem.VR in {"CS", "UI"}:
                continue
            for value in _values(elem.value):
                text = str(value).strip()
                if elem.VR == "PN":
                    found.update(p for p in re.split(r"[\^= ]+", text) if len(p) >= 2)
                elif elem.VR in {"DA", "DT"}:
                    found.update(_date_spellings(text))
                elif len(text) >= 3 and not text.replace(".", "").isdigit():
                    found.add(text)

    collect(ds)
    if not found:
        return None
    alternatives = sorted((re.escape(v) for v in found), key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


def _date_spellings(text: str) -> set[str]:
    """A DA/DT value as people write it in free text: 19580723, 1958-07-23, 23/07/1958, ..."""
    digits = text[:8]
    if len(digits) != 8 or not digits.isdigit():
        return set()
    y, m, d = digits[:4], digits[4:6], digits[6:8]
    return {digits, f"{y}-{m}-{d}", f"{d}/{m}/{y}", f"{m}/{d}/{y}", f"{d}.{m}.{y}"}


def _text_clean(text: str, *, identifiers: re.Pattern[str] | None) -> str:
    cleaned = identifiers.sub(_DESCRIPTOR_REMOVED, text) if identifiers else text
    cleaned = _IDENTIFIER_SHAPES.sub(_DESCRIPTOR_REMOVED, cleaned)
    # "[removed], [removed]" says no more than one marker.
    cleaned = re.sub(r"(\[removed\][\s,;:^]*){2,}", _DESCRIPTOR_REMOVED + " ", cleaned)
    return cleaned.strip()


def _descriptor_clean(ds: Dataset, *, elem: DataElement, run: _DeidentificationRun) -> Outcome:
    """Keep a descriptor's meaning and drop its identifying text (the C action)."""
    if elem.VR not in _TEXT_VRS or elem.is_empty:
        return "kept"
    values = [_text_clean(str(v), identifiers=run.identifiers) for v in _values(elem.value)]
    if elem.VR in {"SH", "LO", "CS", "PN", "AE"}:
        limit = {"SH": 16, "LO": 64, "CS": 16, "PN": 64, "AE": 16}[elem.VR]
        values = [v[:limit] for v in values]
    _element_replace(ds, elem=elem, value=values if len(values) > 1 else values[0])
    return "descriptor_cleaned"


def _descriptors_clean_in(item: Dataset, *, run: _DeidentificationRun) -> None:
    for elem in list(item):
        if elem.VR == "SQ":
            for nested in elem.value or []:
                _descriptors_clean_in(nested, run=run)
        elif elem.VR in {"LO", "SH", "ST", "LT", "UT", "UC"}:
            _descriptor_clean(item, elem=elem, run=run)


# --- Clean Pixel Data (E.3.1) ---------------------------------------------------------------

# Burned-in annotation sits in the top and bottom bands of the image (the corners, and
# centred banners); each band spans this share of the rows, the central field the rest.
_BAND_SHARE = 0.3
_REGION_MARGIN_PIXELS = 2
_TEXT_JOIN_PIXELS = 3  # letters and lines closer than this belong to one block of text
_TEXT_MIN_PIXELS = 6  # fewer bright pixels than this is noise, not text


def burned_in_regions_detect(frame: np.ndarray) -> list[tuple[str, PixelRegion]]:
    """Rectangles in the top and bottom bands holding pixels brighter than the central field.

    Modalities and PACS burn annotation in at full white, above any tissue value; the
    central field (the middle rows) shows what the anatomy reaches. Bright pixels near each
    other are joined into blocks of text; each block gives its bounding box plus a margin,
    named by where it lies ("top-left", "bottom-right", ...).
    """
    from scipy import ndimage

    rows, columns = frame.shape[:2]
    plane = frame.max(axis=-1) if frame.ndim == 3 else frame
    band = max(1, int(rows * _BAND_SHARE))
    central = plane[band : rows - band]
    if central.size == 0:
        return []
    bright = plane > central.max()
    bright[band : rows - band] = False
    joined = ndimage.binary_dilation(bright, iterations=_TEXT_JOIN_PIXELS)
    labels, _count = ndimage.label(joined)
    found = []
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        block = bright[box] & (labels[box] == index)
        if block.sum() < _TEXT_MIN_PIXELS:
            continue
        hit_rows, hit_columns = np.nonzero(block)
        top = box[0].start + int(hit_rows.min())
        left = box[1].start + int(hit_columns.min())
        bottom = box[0].start + int(hit_rows.max()) + 1
        right = box[1].start + int(hit_columns.max()) + 1
        margin = _REGION_MARGIN_PIXELS
        region = PixelRegion(
            top=max(0, top - margin),
            left=max(0, left - margin),
            bottom=min(rows, bottom + margin),
            right=min(columns, right + margin),
        )
        vertical = "top" if top < rows / 2 else "bottom"
        centre = (left + right) / 2
        horizontal = (
            "left" if centre < columns / 3 else "right" if centre > 2 * columns / 3 else "centre"
        )
        found.append((f"{vertical}-{horizontal}", region))
    return found


def pixel_data_clean(
    ds: Dataset, *, regions: tuple[PixelRegion, ...] = ()
) -> tuple[list[PixelRegionBlanked], list[str]]:
    """Blank detected and configured regions of every frame IN PLACE (Clean Pixel Data).

    Returns the rectangles blanked and notes on anything that could not be done. Blanked
    pixels take the frame's minimum stored value (black in MONOCHROME2). When something was
    blanked, Burned In Annotation is set to NO: the annotation this option looks for is gone.
    """
    if "PixelData" not in ds:
        return [], ["no pixel data"]
    transfer_syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if transfer_syntax is not None and transfer_syntax.is_compressed:
        return [], [
            f"pixel data are compressed ({transfer_syntax.name}); decompress before cleaning"
        ]
    pixels = ds.pixel_array.copy()
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    stack = pixels if frames > 1 else pixels[np.newaxis]
    blanked: dict[tuple[PixelRegion, str], int] = {}
    for frame in stack:
        found = [
            (f"text detected at the {place}", region)
            for place, region in burned_in_regions_detect(frame)
        ]
        found += [("configured region", r) for r in regions]
        floor = frame.min()
        for reason, region in found:
            window = frame[region.top : region.bottom, region.left : region.right]
            changed = int(np.count_nonzero(window != floor))
            window[...] = floor
            blanked[(region, reason)] = blanked.get((region, reason), 0) + changed
    result = [
        PixelRegionBlanked(region=region, reason=reason, pixels_changed=changed)
        for (region, reason), changed in blanked.items()
    ]
    if result:
        cleaned = stack if frames > 1 else stack[0]
        ds.PixelData = cleaned.astype(pixels.dtype).tobytes()
        ds.BurnedInAnnotation = "NO"
    return result, [] if result else ["no burned-in text found in the top or bottom bands"]
