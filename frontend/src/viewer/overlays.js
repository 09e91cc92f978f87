// Overlay layers drawn over the viewer's image: DICOM SEG label maps (PS3.3 A.51), fetched
// through WADO-RS like the images. Each layer keeps its own visibility and opacity; the
// segments get colours from the SEG (RecommendedDisplayCIELabValue) or a fixed palette,
// listed in a legend. The layer is drawn on a 2D canvas above Cornerstone's, mapped with
// the viewport's own world-to-canvas transform, so zoom, pan, flip and rotation carry over.
import { seriesMetadata, tagValue, tagValues } from "./dicomweb.js";

// Okabe-Ito and Tol colour sets: distinguishable with the common colour-vision deficiencies.
const PALETTE = [
  [230, 159, 0], [86, 180, 233], [0, 158, 115], [240, 228, 66], [0, 114, 178],
  [213, 94, 0], [204, 121, 167], [68, 170, 153], [136, 34, 85], [221, 204, 119],
  [51, 34, 136], [17, 119, 51], [170, 68, 153], [153, 153, 51], [136, 204, 238],
];

const T = {
  perFrame: "52009230",
  derivationImage: "00089124",
  sourceImage: "00082112",
  referencedSOP: "00081155",
  segmentIdentification: "0062000A",
  referencedSegment: "0062000B",
  planePosition: "00209113",
  imagePosition: "00200032",
  segmentSequence: "00620002",
  segmentNumber: "00620004",
  segmentLabel: "00620005",
  recommendedCIELab: "0062000D",
  rows: "00280010",
  columns: "00280011",
  sopInstanceUID: "00080018",
};

/** PS3.3 C.10.7.1.1: CIELab scaled to 0..65535, to sRGB (D65). */
function cielabToRgb([l16, a16, b16]) {
  const L = (l16 / 65535) * 100;
  const a = (a16 / 65535) * 255 - 128;
  const b = (b16 / 65535) * 255 - 128;
  const fy = (L + 16) / 116;
  const f = (t) => (t ** 3 > 0.008856 ? t ** 3 : (t - 16 / 116) / 7.787);
  const [x, y, z] = [0.95047 * f(fy + a / 500), f(fy), 1.08883 * f(fy - b / 200)];
  const linear = [
    3.2406 * x - 1.5372 * y - 0.4986 * z,
    -0.9689 * x + 1.8758 * y + 0.0415 * z,
    0.0557 * x - 0.204 * y + 1.057 * z,
  ];
  return linear.map((c) => {
    const v = c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055;
    return Math.round(Math.min(Math.max(v, 0), 1) * 255);
  });
}

function indexOfBytes(haystack, needle, from) {
  outer: for (let i = from; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** The parts of a multipart/related body (PS3.18 §8.6.1.2), as byte arrays. */
function multipartParts(buffer, contentType) {
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  const bytes = new Uint8Array(buffer);
  if (!boundary) return [bytes];
  const marker = new TextEncoder().encode(`--${boundary}`);
  const headerEnd = new TextEncoder().encode("\r\n\r\n");
  const parts = [];
  let at = indexOfBytes(bytes, marker, 0);
  while (at >= 0) {
    const headersAt = at + marker.length;
    if (bytes[headersAt] === 45 && bytes[headersAt + 1] === 45) break; // closing "--"
    const bodyAt = indexOfBytes(bytes, headerEnd, headersAt) + 4;
    const next = indexOfBytes(bytes, marker, bodyAt);
    if (bodyAt < 4 || next < 0) break;
    parts.push(bytes.subarray(bodyAt, next - 2)); // without the CRLF before the boundary
    at = next;
  }
  return parts;
}

async function framesFetch(url, numbers) {
  const parts = [];
  for (let i = 0; i < numbers.length; i += 200) {
    const response = await fetch(`${url}/frames/${numbers.slice(i, i + 200).join(",")}`, {
      headers: { Accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' },
      credentials: "same-origin",
    });
    if (!response.ok) throw new Error(`SEG frames: the server answered ${response.status}.`);
    parts.push(...multipartParts(await response.arrayBuffer(), response.headers.get("content-type")));
  }
  return parts;
}

/** A SEG series as label masks per referenced image: Map(SOPInstanceUID -> [{segment, mask}]). */
export async function segLayerLoad({ root, studyUID, seriesUID, imagePositions }) {
  const [instance] = await seriesMetadata(root, studyUID, seriesUID);
  const rows = Number(tagValue(instance, T.rows));
  const columns = Number(tagValue(instance, T.columns));
  const segments = tagValues(instance, T.segmentSequence).map((item, i) => {
    const lab = tagValues(item, T.recommendedCIELab);
    return {
      number: Number(tagValue(item, T.segmentNumber)),
      label: tagValue(item, T.segmentLabel, `Segment ${i + 1}`),
      colour: lab.length === 3 ? cielabToRgb(lab) : PALETTE[i % PALETTE.length],
    };
  });
  const frames = tagValues(instance, T.perFrame).map((item) => {
    const source = tagValue(tagValue(item, T.derivationImage), T.sourceImage);
    const position = tagValues(tagValue(item, T.planePosition), T.imagePosition).map(Number);
    const byPosition = position.length === 3 ? imagePositions(position) : undefined;
    return {
      sop: tagValue(source, T.referencedSOP) ?? byPosition,
      segment: Number(tagValue(tagValue(item, T.segmentIdentification), T.referencedSegment)),
    };
  });
  const url = `${root}/studies/${studyUID}/series/${seriesUID}/instances/${tagValue(instance, T.sopInstanceUID)}`;
  const data = await framesFetch(
    url,
    frames.map((_, i) => i + 1),
  );
  const masks = new Map();
  const pixels = rows * columns;
  frames.forEach((frame, i) => {
    const bytes = data[i];
    if (!bytes || !frame.sop) return;
    // BitsAllocated 1 (PS3.5 §8.1.1: packed, least significant bit first), or one byte
    // per pixel when the server unpacked them.
    const mask = new Uint8Array(pixels);
    if (bytes.length >= pixels) mask.set(bytes.subarray(0, pixels));
    else for (let p = 0; p < pixels; p++) mask[p] = (bytes[p >> 3] >> (p & 7)) & 1;
    if (!masks.has(frame.sop)) masks.set(frame.sop, []);
    masks.get(frame.sop).push({ segment: frame.segment, mask });
  });
  return { kind: "seg", seriesUID, rows, columns, segments, masks };
}

/** The layer's colours for one image, as an RGBA canvas (null when nothing is labelled). */
export function segLayerPaint(layer, sop) {
  const entries = layer.masks.get(sop);
  if (!entries?.length) return null;
  const canvas = document.createElement("canvas");
  canvas.width = layer.columns;
  canvas.height = layer.rows;
  const context = canvas.getContext("2d");
  const image = context.createImageData(layer.columns, layer.rows);
  const colours = new Map(layer.segments.map((s) => [s.number, s.colour]));
  for (const { segment, mask } of entries) {
    if (layer.hiddenSegments?.has(segment)) continue;
    const [r, g, b] = colours.get(segment) ?? [255, 0, 0];
    for (let p = 0; p < mask.length; p++) {
      if (!mask[p]) continue;
      const o = p * 4;
      image.data[o] = r;
      image.data[o + 1] = g;
      image.data[o + 2] = b;
      image.data[o + 3] = 255;
    }
  }
  context.putImageData(image, 0, 0);
  return canvas;
}

// --- Lab outputs: heat maps and label maps as 8-bit PNGs (VIEWER_CONTRACT.md) -------------

// Matplotlib's "inferno" (perceptually uniform, readable in greyscale and with the common
// colour-vision deficiencies), sampled at nine stops and interpolated between them.
const INFERNO = [
  [0, 0, 4], [31, 12, 72], [85, 15, 109], [136, 34, 106], [186, 54, 85],
  [227, 89, 51], [249, 140, 10], [249, 201, 50], [252, 255, 164],
];

function infernoAt(t) {
  const x = Math.min(Math.max(t, 0), 1) * (INFERNO.length - 1);
  const i = Math.min(Math.floor(x), INFERNO.length - 2);
  const f = x - i;
  return INFERNO[i].map((c, k) => Math.round(c + (INFERNO[i + 1][k] - c) * f));
}

/** The heat map's colour ramp as a CSS gradient, for its legend. */
export const HEATMAP_GRADIENT = `linear-gradient(to right, ${INFERNO.map(
  (c, i) => `rgb(${c.join(" ")} / ${heatmapAlpha(i / (INFERNO.length - 1)) / 255})`,
).join(", ")})`;

/** Low saliency fades out so the anatomy under it stays readable: transparent below 0.15,
 * opaque from 0.5, smooth in between. */
function heatmapAlpha(t) {
  const s = Math.min(Math.max((t - 0.15) / 0.35, 0), 1);
  return Math.round(255 * s * s * (3 - 2 * s));
}

function hexToRgb(text) {
  const match = /^#?([0-9a-f]{6})$/i.exec(String(text ?? "").trim());
  if (!match) return null;
  const value = parseInt(match[1], 16);
  return [(value >> 16) & 255, (value >> 8) & 255, value & 255];
}

/** The PNG's first channel as bytes, exactly as stored: no colour management, no
 * premultiplied alpha (the values are data, not colours). */
async function pngValues(url) {
  let response;
  try {
    response = await fetch(url, { credentials: "same-origin" });
  } catch (error) {
    throw new Error(`the map could not be fetched (${error.message})`);
  }
  if (!response.ok) throw new Error(`the server answered ${response.status}`);
  let bitmap;
  try {
    bitmap = await createImageBitmap(await response.blob(), {
      colorSpaceConversion: "none",
      premultiplyAlpha: "none",
    });
  } catch {
    throw new Error("the map is not a readable PNG");
  }
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  const rgba = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const values = new Uint8Array(bitmap.width * bitmap.height);
  for (let p = 0; p < values.length; p++) values[p] = rgba[p * 4];
  return { rows: bitmap.height, columns: bitmap.width, values };
}

function rgbaCanvas(columns, rows, paint) {
  const canvas = document.createElement("canvas");
  canvas.width = columns;
  canvas.height = rows;
  const context = canvas.getContext("2d");
  const image = context.createImageData(columns, rows);
  paint(image.data);
  context.putImageData(image, 0, 0);
  return canvas;
}

/** A heat map (value/255 = normalised saliency) as an RGBA canvas on the inferno ramp. */
export async function heatmapLayerLoad({ url }) {
  const { rows, columns, values } = await pngValues(url);
  const ramp = Array.from({ length: 256 }, (_, v) => [...infernoAt(v / 255), heatmapAlpha(v / 255)]);
  const canvas = rgbaCanvas(columns, rows, (data) => {
    for (let p = 0; p < values.length; p++) data.set(ramp[values[p]], p * 4);
  });
  return { kind: "heatmap", rows, columns, canvas };
}

/** A label map (pixel value = label index, 0 = none) as an RGBA canvas; colours from the
 * page's legend, else from the palette. The legend lists every label the map holds. */
export async function labelmapLayerLoad({ url, legend = [] }) {
  const { rows, columns, values } = await pngValues(url);
  const present = new Set(values);
  present.delete(0);
  const entries = new Map();
  for (const item of legend) {
    const value = Number(item.value);
    if (!Number.isInteger(value) || value < 1 || value > 255) continue;
    entries.set(value, {
      value,
      name: String(item.name ?? `Label ${value}`),
      colour: hexToRgb(item.colour) ?? PALETTE[(value - 1) % PALETTE.length],
    });
  }
  for (const value of [...present].sort((a, b) => a - b)) {
    if (!entries.has(value)) {
      entries.set(value, { value, name: `Label ${value}`, colour: PALETTE[(value - 1) % PALETTE.length] });
    }
  }
  const lut = new Uint8Array(256 * 4);
  for (const { value, colour } of entries.values()) lut.set([...colour, 255], value * 4);
  const canvas = rgbaCanvas(columns, rows, (data) => {
    for (let p = 0; p < values.length; p++) {
      const v = values[p];
      if (v) data.set(lut.subarray(v * 4, v * 4 + 4), p * 4);
    }
  });
  return {
    kind: "labelmap",
    rows,
    columns,
    canvas,
    segments: [...entries.values()]
      .sort((a, b) => a.value - b.value)
      .map(({ value, name, colour }) => ({ number: value, label: name, colour })),
  };
}

// --- Box layers: prompts and detections as vectors ---------------------------------------

const BOX_COLOUR = "#ffc800";

/** A box layer from the page's entry: [{box: [column0, row0, column1, row1] (pixel indices,
 * inclusive), label, colour}]. Nothing to fetch; malformed boxes are left out. The legend
 * lists each distinct label once. */
export function boxesLayerLoad({ boxes }) {
  const kept = [];
  for (const entry of Array.isArray(boxes) ? boxes : []) {
    const box = Array.isArray(entry?.box) ? entry.box.map(Number) : [];
    if (box.length !== 4 || !box.every(Number.isFinite)) continue;
    const colour = /^#[0-9a-f]{6}$/i.test(entry.colour ?? "") ? entry.colour : BOX_COLOUR;
    kept.push({ box, label: String(entry.label ?? ""), colour });
  }
  const legend = new Map();
  for (const item of kept) legend.set(`${item.colour} ${item.label}`, item);
  return {
    boxes: kept,
    segments: [...legend.values()].map((item) => ({
      label: item.label,
      colour: hexToRgb(item.colour),
    })),
  };
}

/** Outline each box on the overlay canvas. `corner(column, row)` maps an image corner
 * coordinate to canvas pixels (CSS), so zoom, pan, flip and rotation carry over; a pixel
 * index i spans corners i .. i + 1, hence the whole-pixel margins. */
export function boxesLayerDraw(context, data, corner, ratio) {
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.lineWidth = 2;
  for (const { box, label, colour } of data.boxes) {
    const [c0, r0, c1, r1] = box;
    const points = [
      corner(c0, r0),
      corner(c1 + 1, r0),
      corner(c1 + 1, r1 + 1),
      corner(c0, r1 + 1),
    ];
    context.strokeStyle = colour;
    context.beginPath();
    context.moveTo(...points[0]);
    for (const point of points.slice(1)) context.lineTo(...point);
    context.closePath();
    context.stroke();
    if (label) {
      context.fillStyle = colour;
      context.font = "12px sans-serif";
      context.fillText(label, points[0][0], points[0][1] - 4);
    }
  }
}
