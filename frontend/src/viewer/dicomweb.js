// The few DICOMweb calls the viewer makes itself (PS3.18): QIDO-RS for the series of a study
// and WADO-RS metadata for the instances of a series. Pixels are fetched by the image
// loader (WADO-RS frames). Same-origin requests carry the Django session cookie.

export class DicomwebAccessError extends Error {}
export class DicomwebLoadError extends Error {}

async function dicomJson(url) {
  let response;
  try {
    response = await fetch(url, {
      headers: { Accept: "application/dicom+json" },
      credentials: "same-origin",
    });
  } catch (error) {
    throw new DicomwebLoadError(`The image server could not be reached (${error.message}).`);
  }
  if (response.status === 401 || response.status === 403 || response.status === 404) {
    throw new DicomwebAccessError(
      response.status === 404
        ? "This study does not exist, or you do not have access to it."
        : "You do not have access to this study.",
    );
  }
  if (response.status === 204) return [];
  if (!response.ok) {
    throw new DicomwebLoadError(`The image server answered ${response.status}.`);
  }
  return response.json();
}

/** The first value of a DICOM JSON attribute (PS3.18 Annex F), by tag "ggggeeee". */
export function tagValue(dataset, tag, fallback = undefined) {
  const element = dataset?.[tag];
  const value = element?.Value?.[0];
  if (value === undefined) return fallback;
  if (element.vr === "PN") return value.Alphabetic ?? fallback;
  return value;
}

export function tagValues(dataset, tag) {
  return dataset?.[tag]?.Value ?? [];
}

export const TAGS = {
  studyInstanceUID: "0020000D",
  seriesInstanceUID: "0020000E",
  sopInstanceUID: "00080018",
  modality: "00080060",
  seriesDescription: "0008103E",
  seriesNumber: "00200011",
  instanceNumber: "00200013",
  numberOfFrames: "00280008",
  numberOfSeriesRelatedInstances: "00201209",
  imagePositionPatient: "00200032",
  photometricInterpretation: "00280004",
};

const NON_IMAGE_MODALITIES = new Set(["SEG", "SR", "RTSTRUCT", "PR", "KO", "REG", "RTPLAN"]);

export function isImageSeries(series) {
  return !NON_IMAGE_MODALITIES.has(series.modality);
}

/** The study's series, in series-number order. */
export async function studySeriesList(root, studyUID) {
  const found = await dicomJson(`${root}/studies/${studyUID}/series`);
  return found
    .map((dataset) => ({
      uid: tagValue(dataset, TAGS.seriesInstanceUID),
      modality: tagValue(dataset, TAGS.modality, ""),
      description: tagValue(dataset, TAGS.seriesDescription, ""),
      number: Number(tagValue(dataset, TAGS.seriesNumber, 0)),
      instances: Number(tagValue(dataset, TAGS.numberOfSeriesRelatedInstances, 0)),
    }))
    .sort((a, b) => a.number - b.number);
}

/** The metadata of every instance of a series, ordered for a stack: by position along the
 * slice normal when the instances carry one, else by InstanceNumber. */
export async function seriesMetadata(root, studyUID, seriesUID) {
  const instances = await dicomJson(`${root}/studies/${studyUID}/series/${seriesUID}/metadata`);
  if (!instances.length) throw new DicomwebLoadError("This series holds no instances.");
  return instances.sort(
    (a, b) =>
      Number(tagValue(a, TAGS.instanceNumber, 0)) - Number(tagValue(b, TAGS.instanceNumber, 0)),
  );
}
