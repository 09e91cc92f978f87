// The Cornerstone3D viewer: mounts on every `[data-viewer]` element that
// templates/viewer/viewer.html renders. It reads a library study through DICOMweb, or
// DICOM Part 10 files named by URL (lab outputs that are not library instances).
import {
  Enums as CoreEnums,
  RenderingEngine,
  eventTarget,
  imageLoader,
  init as coreInit,
  metaData,
  utilities as coreUtilities,
} from "@cornerstonejs/core";
import { init as dicomImageLoaderInit, wadors } from "@cornerstonejs/dicom-image-loader";
import {
  Enums as ToolEnums,
  EllipticalROITool,
  LengthTool,
  PanTool,
  PlanarFreehandROITool,
  ProbeTool,
  RectangleROITool,
  StackScrollTool,
  ToolGroupManager,
  WindowLevelTool,
  ZoomTool,
  addTool,
  annotation,
  init as toolsInit,
  synchronizers,
} from "@cornerstonejs/tools";
import {
  HEATMAP_GRADIENT,
  boxesLayerDraw,
  boxesLayerLoad,
  heatmapLayerLoad,
  labelmapLayerLoad,
  segLayerLoad,
  segLayerPaint,
} from "./overlays.js";
import {
  DicomwebAccessError,
  TAGS,
  isImageSeries,
  seriesMetadata,
  studySeriesList,
  tagValue,
} from "./dicomweb.js";

const { MouseBindings } = ToolEnums;

// Window presets as [width, centre] in HU (CT) — the usual reading-room values.
export const PRESETS = {
  lung: { label: "Lung", width: 1500, centre: -600 },
  mediastinum: { label: "Mediastinum", width: 350, centre: 50 },
  abdomen: { label: "Abdomen", width: 400, centre: 40 },
  bone: { label: "Bone", width: 1800, centre: 400 },
  brain: { label: "Brain", width: 80, centre: 40 },
  auto: { label: "Auto (from the image)" },
};
const CT_PRESET_KEYS = ["lung", "mediastinum", "abdomen", "bone", "brain"];

const MEASURE_TOOLS = { length: LengthTool.toolName, ellipse: EllipticalROITool.toolName };
const ANSWER_TOOLS = {
  point: ProbeTool.toolName,
  box: RectangleROITool.toolName,
  outline: PlanarFreehandROITool.toolName,
};
const DRAG_TOOLS = {
  window: WindowLevelTool.toolName,
  pan: PanTool.toolName,
  zoom: ZoomTool.toolName,
  ...MEASURE_TOOLS,
  ...ANSWER_TOOLS,
};

// More images than this are loaded as they are shown (a long multi-frame series would not
// fit the cache).
const PREFETCH_LIMIT = 1000;

let cornerstoneReady = null;

function webgl2Available() {
  try {
    return Boolean(document.createElement("canvas").getContext("webgl2"));
  } catch {
    return false;
  }
}

/** Cornerstone3D, the DICOM image loader (decode worker under /static/dist/workers/) and
 * the tools, initialised once per page. */
function cornerstoneInit() {
  cornerstoneReady ??= (async () => {
    await coreInit();
    dicomImageLoaderInit({ maxWebWorkers: Math.min(4, navigator.hardwareConcurrency || 1) });
    toolsInit();
    answerGroupsSeparate();
    for (const tool of [
      WindowLevelTool,
      PanTool,
      ZoomTool,
      StackScrollTool,
      LengthTool,
      EllipticalROITool,
      ProbeTool,
      RectangleROITool,
      PlanarFreehandROITool,
    ]) {
      addTool(tool);
    }
  })();
  return cornerstoneReady;
}

/** The viewport elements of answer viewers, each with its own annotation group. */
const answerGroups = new WeakMap();

/** Cornerstone files annotations under the viewport's frame of reference, so every viewer
 * of one series sees (and would post) every mark placed on it. An answer belongs to one
 * question, whatever series the questions share: an answer viewer's marks are filed under
 * its frame of reference and its own name, so each viewer shows and posts only its own. */
function answerGroupsSeparate() {
  const manager = annotation.state.getAnnotationManager();
  const frameOfReferenceKey = manager.getGroupKey;
  manager.getGroupKey = (selector) => {
    const key = frameOfReferenceKey(selector);
    const own = typeof selector === "string" ? undefined : answerGroups.get(selector);
    return own ? `${key}|${own}` : key;
  };
}

let viewerCount = 0;

/** An image named by URL could not be read; the message says so on its own. */
class ImageLoadError extends Error {}
let renderingEngine = null;

/** One rendering engine for every viewer of the page: Cornerstone's synchronizers look up
 * the source and target viewports in one engine (zoom/pan sync finds nothing across two). */
function renderingEngineShared() {
  renderingEngine ??= new RenderingEngine("artefact-viewers");
  return renderingEngine;
}

class Viewer {
  constructor(root) {
    this.root = root;
    this.id = `viewer-${++viewerCount}`;
    this.dicomwebRoot = root.dataset.dicomwebRoot.replace(/\/$/, "");
    this.studyUID = root.dataset.study;
    this.seriesUID = root.dataset.series || "";
    this.initialSlice = Number(root.dataset.slice || 0);
    this.initialPreset = root.dataset.preset || "";
    this.answerField = root.dataset.answerField
      ? document.getElementById(root.dataset.answerField)
      : null;
    this.element = root.querySelector(".viewer-viewport");
    this.slider = root.querySelector(".viewer-slider");
    this.presetSelect = root.querySelector(".viewer-preset");
    this.message = root.querySelector(".viewer-message");
    this.help = root.querySelector(".viewer-help");
    this.seriesNav = root.querySelector(".viewer-series");
    this.corners = Object.fromEntries(
      [...root.querySelectorAll("[data-corner]")].map((node) => [node.dataset.corner, node]),
    );
    this.status = root.querySelector(".viewer-status");
    this.imageIds = [];
    this.instances = [];
    this.series = [];
    this.modality = "";
    this.cineTimer = null;
    this.activeTool = "window";
    this.userInvert = false;
    this.overlayCanvas = root.querySelector(".viewer-overlay");
    this.layersPanel = root.querySelector(".viewer-layers");
    this.layers = [];
    this.linkGroup = root.dataset.link || "";
    this.presetKey = "";
    this.presetRange = null;
    this.answerUids = new Set(); // the answer marks last posted
    this.pointerHeld = false;
    this.answersPending = false;
  }

  /** A JSON data attribute, or a clear error naming it. */
  jsonData(name, fallback) {
    const text = this.root.dataset[name];
    if (!text) return fallback;
    try {
      return JSON.parse(text);
    } catch {
      throw new Error(`The page gave the viewer unreadable ${name} (not JSON).`);
    }
  }

  async mount() {
    if (!webgl2Available()) {
      this.fail("This browser cannot show images: the viewer needs WebGL 2.");
      return;
    }
    this.setBusy(true);
    try {
      await cornerstoneInit();
      this.renderingEngine = renderingEngineShared();
      this.renderingEngine.enableElement({
        viewportId: `${this.id}-viewport`,
        type: CoreEnums.ViewportType.STACK,
        element: this.element,
        defaultOptions: { background: [0, 0, 0] },
      });
      // Cornerstone takes the element out of the tab order (tabIndex = -1); the image takes
      // the arrow keys and shortcuts, so keyboard users must be able to Tab to it. Its
      // tools' key listener cancels every key, Tab too, which would trap focus there: Tab
      // is kept from it (a capture listener runs first), so focus moves on as anywhere else.
      this.element.tabIndex = 0;
      this.element.addEventListener(
        "keydown",
        (event) => event.key === "Tab" && event.stopImmediatePropagation(),
        { capture: true },
      );
      this.viewport = this.renderingEngine.getViewport(`${this.id}-viewport`);
      this.toolsSetUp();
      this.controlsBind();
      const imageUrls = this.jsonData("imageUrls", []);
      const start = { slice: this.initialSlice, preset: this.initialPreset };
      if (Array.isArray(imageUrls) && imageUrls.length) {
        await this.urlsLoad(imageUrls.map(String), start);
      } else {
        this.series = await studySeriesList(this.dicomwebRoot, this.studyUID);
        const images = this.series.filter(isImageSeries);
        if (!images.length) throw new Error("This study holds no image series.");
        if (!this.seriesUID || !images.some((s) => s.uid === this.seriesUID)) {
          this.seriesUID = images[0].uid;
        }
        this.seriesPickerRender(images);
        await this.seriesLoad(this.seriesUID, start);
      }
      try {
        this.answersRestore(this.jsonData("answerInitial", null));
      } catch (error) {
        console.error(error); // the resident places the marks again; the image still shows
      }
      this.root.dataset.state = "ready";
      if (this.linkGroup) viewerLink(this);
      await this.layersSetUp();
    } catch (error) {
      console.error(error);
      this.fail(
        error instanceof DicomwebAccessError || error instanceof ImageLoadError
          ? error.message
          : `The study could not be loaded. ${error.message ?? ""}`.trim(),
      );
    } finally {
      this.setBusy(false);
    }
    new ResizeObserver(() => this.renderingEngine?.resize(true, false)).observe(this.element);
  }

  setBusy(busy) {
    this.root.setAttribute("aria-busy", busy ? "true" : "false");
  }

  fail(text) {
    this.root.dataset.state = "error";
    this.message.textContent = text;
    this.message.hidden = false;
    this.root.querySelector(".viewer-stage")?.classList.add("viewer-failed");
  }

  // --- Series ---------------------------------------------------------------------------

  seriesPickerRender(images) {
    if (images.length < 2) return;
    this.seriesNav.hidden = false;
    const list = document.createElement("ul");
    for (const series of images) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "viewer-series-button";
      button.dataset.series = series.uid;
      const thumbnail = document.createElement("img");
      thumbnail.alt = "";
      thumbnail.loading = "lazy";
      thumbnail.width = thumbnail.height = 64;
      thumbnail.src = `${this.dicomwebRoot}/studies/${this.studyUID}/series/${series.uid}/thumbnail?viewport=64,64`;
      const label = document.createElement("span");
      label.textContent = `${series.modality} ${series.number || ""} ${series.description}`.trim();
      button.append(thumbnail, label);
      button.addEventListener("click", () => this.seriesLoad(series.uid, {}));
      item.append(button);
      list.append(item);
    }
    this.seriesNav.append(list);
  }

  async seriesLoad(seriesUID, { slice = 0, preset = "" }) {
    this.cineStop();
    this.seriesUID = seriesUID;
    const metadata = await seriesMetadata(this.dicomwebRoot, this.studyUID, seriesUID);
    const imageIds = [];
    const instances = [];
    for (const instance of metadata) {
      const sop = tagValue(instance, TAGS.sopInstanceUID);
      const frames = Number(tagValue(instance, TAGS.numberOfFrames, 1)) || 1;
      for (let frame = 1; frame <= frames; frame++) {
        const imageId =
          `wadors:${this.dicomwebRoot}/studies/${this.studyUID}/series/${seriesUID}` +
          `/instances/${sop}/frames/${frame}`;
        wadors.metaDataManager.add(imageId, instance);
        imageIds.push(imageId);
        instances.push({ sop, frame, position: (instance[TAGS.imagePositionPatient]?.Value ?? []).map(Number) });
      }
    }
    this.imageIds = imageIds;
    this.instances = instances;
    this.modality = tagValue(metadata[0], TAGS.modality, "");
    this.seriesLabel = [
      tagValue(metadata[0], TAGS.seriesNumber, ""),
      tagValue(metadata[0], TAGS.seriesDescription, ""),
    ]
      .join(" ")
      .trim();
    this.photometric = tagValue(metadata[0], TAGS.photometricInterpretation, "");
    await this.stackShow({ slice, preset });
  }

  /** DICOM Part 10 files by URL (wadouri: scheme; the session cookie authenticates), in
   * the order given: their own headers name the modality, series and geometry. */
  async urlsLoad(urls, { slice = 0, preset = "" }) {
    const imageIds = urls.map((url) => `wadouri:${new URL(url, window.location.href).href}`);
    try {
      await Promise.all(imageIds.map((imageId) => imageLoader.loadAndCacheImage(imageId)));
    } catch (error) {
      const status = error?.request?.status ?? error?.status;
      if (status === 401 || status === 403 || status === 404) {
        throw new DicomwebAccessError("This image does not exist, or you do not have access to it.");
      }
      throw new ImageLoadError(
        `The image could not be loaded${status ? ` (the server answered ${status})` : ""}.`,
      );
    }
    const headers = imageIds.map((imageId) => metaData.get("naturalized", imageId) ?? {});
    const first = headers[0];
    this.imageIds = imageIds;
    this.instances = headers.map((header) => ({
      sop: header.SOPInstanceUID,
      frame: 1,
      position: (header.ImagePositionPatient ?? []).map(Number),
    }));
    this.studyUID = first.StudyInstanceUID ?? this.studyUID;
    this.seriesUID = first.SeriesInstanceUID ?? "";
    this.modality = first.Modality ?? "";
    this.seriesLabel = [first.SeriesNumber ?? "", first.SeriesDescription ?? ""].join(" ").trim();
    this.photometric = first.PhotometricInterpretation ?? "";
    this.root.dataset.cached = "all";
    await this.stackShow({ slice, preset, prefetch: false });
    this.root.dataset.allCachedMs = String(Math.round(performance.now()));
  }

  /** Show this.imageIds from the given (1-based) image with a window preset. */
  async stackShow({ slice = 0, preset = "", prefetch = true }) {
    const { imageIds } = this;
    const index = Math.min(Math.max(slice - 1, 0), imageIds.length - 1);
    await this.viewport.setStack(imageIds, index);
    this.userInvert = false;
    this.presetOptionsRender();
    this.presetApply(preset || (this.modality === "CT" ? "" : "auto"));
    this.slider.min = 1;
    this.slider.max = imageIds.length;
    this.slider.value = index + 1;
    this.slider.disabled = imageIds.length < 2;
    for (const button of this.seriesNav.querySelectorAll("button")) {
      button.setAttribute(
        "aria-pressed",
        button.dataset.series === this.seriesUID ? "true" : "false",
      );
    }
    this.root.dataset.series = this.seriesUID;
    this.viewport.render();
    this.cornersUpdate();
    performance.mark(`${this.id}-first-image`);
    this.root.dataset.firstImageMs = String(Math.round(performance.now()));
    if (prefetch) this.prefetch(imageIds);
  }

  /** Every image of the series into Cornerstone's cache, so scrolling and cine never wait
   * for the network (the request pool keeps the visible image first). */
  async prefetch(imageIds) {
    this.root.dataset.cached = "partial";
    const results = await Promise.allSettled(
      imageIds.slice(0, PREFETCH_LIMIT).map((imageId) => imageLoader.loadAndCacheImage(imageId)),
    );
    if (imageIds !== this.imageIds) return; // another series was chosen meanwhile
    const failed = results.filter((result) => result.status === "rejected").length;
    this.root.dataset.cached = failed ? `failed ${failed}` : "all";
    this.root.dataset.allCachedMs = String(Math.round(performance.now()));
  }

  // --- Tools ------------------------------------------------------------------------------

  toolsSetUp() {
    const group = ToolGroupManager.createToolGroup(`${this.id}-tools`);
    this.toolGroup = group;
    if (this.answerField) answerGroups.set(this.element, this.id);
    for (const name of Object.values(DRAG_TOOLS)) group.addTool(name);
    group.addTool(StackScrollTool.toolName);
    group.setToolActive(StackScrollTool.toolName, {
      bindings: [{ mouseButton: MouseBindings.Wheel }],
    });
    group.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: MouseBindings.Auxiliary }] });
    group.setToolActive(ZoomTool.toolName, {
      bindings: [{ mouseButton: MouseBindings.Secondary }],
    });
    for (const name of [...Object.values(MEASURE_TOOLS), ...Object.values(ANSWER_TOOLS)]) {
      group.setToolPassive(name);
    }
    group.addViewport(`${this.id}-viewport`, this.renderingEngine.id);
    this.toolSelect("window");
  }

  toolSelect(key) {
    const group = this.toolGroup;
    const previous = DRAG_TOOLS[this.activeTool];
    if (previous && previous !== DRAG_TOOLS[key]) {
      // Measurements and marks stay visible and editable when another tool takes the button.
      if (this.activeTool === "pan") {
        group.setToolActive(PanTool.toolName, {
          bindings: [{ mouseButton: MouseBindings.Auxiliary }],
        });
      } else if (this.activeTool === "zoom") {
        group.setToolActive(ZoomTool.toolName, {
          bindings: [{ mouseButton: MouseBindings.Secondary }],
        });
      } else {
        group.setToolPassive(previous);
      }
    }
    const bindings = [{ mouseButton: MouseBindings.Primary }];
    if (key === "pan") bindings.push({ mouseButton: MouseBindings.Auxiliary });
    if (key === "zoom") bindings.push({ mouseButton: MouseBindings.Secondary });
    group.setToolActive(DRAG_TOOLS[key], { bindings });
    this.activeTool = key;
    for (const button of this.root.querySelectorAll("[data-tool]")) {
      button.setAttribute("aria-pressed", button.dataset.tool === key ? "true" : "false");
    }
  }

  // --- Display ----------------------------------------------------------------------------

  presetOptionsRender() {
    const keys = this.modality === "CT" ? [...CT_PRESET_KEYS, "auto"] : ["auto"];
    this.presetSelect.replaceChildren(
      ...keys.map((key) => {
        const option = document.createElement("option");
        option.value = key;
        option.textContent = PRESETS[key].label;
        return option;
      }),
    );
  }

  presetApply(key) {
    const preset = PRESETS[key];
    if (!preset && key) return;
    if (!preset) {
      // CT without an authored preset: the image's own window, else soft tissue.
      this.viewport.resetProperties();
      if (!this.viewport.getProperties().voiRange) return this.presetApply("mediastinum");
      key = "auto";
    } else if (preset.width) {
      this.viewport.setProperties({
        voiRange: coreUtilities.windowLevel.toLowHighRange(preset.width, preset.centre),
      });
    } else {
      this.viewport.resetProperties();
    }
    this.invertApply();
    this.presetShow(key, this.viewport.getProperties().voiRange);
    this.viewport.render();
    this.cornersUpdate();
    // Linked viewers get the window through the VOI synchronizer; their drop-down follows.
    for (const other of linkedViewersOf(this)) other.presetShow(key, this.presetRange);
  }

  /** The drop-down shows `key` as long as the window is `range`; dragging the window away
   * from it shows "Custom". */
  presetShow(key, range) {
    if (![...this.presetSelect.options].some((option) => option.value === key)) key = "custom";
    this.presetKey = key;
    this.presetRange = range ? { lower: range.lower, upper: range.upper } : null;
    this.presetCustomOption(key === "custom");
    this.presetSelect.value = key;
  }

  presetCustomOption(present) {
    let option = this.presetSelect.querySelector("option[value=custom]");
    if (present && !option) {
      option = document.createElement("option");
      option.value = "custom";
      option.textContent = "Custom";
      option.disabled = true;
      this.presetSelect.append(option);
    } else if (!present && option) {
      option.remove();
    }
  }

  /** After any window change (drag, preset, a linked viewer): does the drop-down still
   * tell the truth? */
  presetFollowWindow() {
    const range = this.viewport?.getProperties().voiRange;
    const shown = this.presetRange;
    if (!range || !shown || this.presetKey === "custom") return;
    const same = Math.abs(range.lower - shown.lower) < 0.5 && Math.abs(range.upper - shown.upper) < 0.5;
    if (!same) this.presetShow("custom", null);
  }

  invertApply() {
    // MONOCHROME1 (PS3.3 C.7.6.3.1.2: minimum value is white) is mapped by Cornerstone3D's
    // own VOI LUT, so "invert" is the user's choice alone, for every photometry.
    this.viewport.setProperties({ invert: this.userInvert });
  }

  invertToggle() {
    this.userInvert = !this.userInvert;
    this.invertApply();
    this.viewport.render();
  }

  flip(direction) {
    const presentation = this.viewport.getViewPresentation();
    const key = direction === "h" ? "flipHorizontal" : "flipVertical";
    this.viewport.setViewPresentation({ [key]: !presentation[key] });
    this.viewport.render();
  }

  rotate() {
    const { rotation = 0 } = this.viewport.getViewPresentation();
    this.viewport.setViewPresentation({ rotation: (rotation + 90) % 360 });
    this.viewport.render();
  }

  zoomBy(factor) {
    this.viewport.setZoom(this.viewport.getZoom() * factor);
    this.viewport.render();
  }

  reset() {
    this.cineStop();
    this.viewport.resetCamera();
    this.userInvert = false;
    this.presetApply(this.initialPreset || (this.modality === "CT" ? "" : "auto"));
  }

  sliceGo(index) {
    const last = this.imageIds.length - 1;
    const target = Math.min(Math.max(index, 0), last);
    if (target !== this.viewport.getCurrentImageIdIndex()) {
      return this.viewport.setImageIdIndex(target);
    }
    return Promise.resolve();
  }

  sliceStep(delta) {
    return this.sliceGo(this.viewport.getCurrentImageIdIndex() + delta);
  }

  cineToggle() {
    if (this.cineTimer) return this.cineStop();
    if (this.imageIds.length < 2) return;
    this.cineTimer = setInterval(() => {
      const next = (this.viewport.getCurrentImageIdIndex() + 1) % this.imageIds.length;
      this.viewport.setImageIdIndex(next);
    }, 100);
    this.root.querySelector("[data-action=cine]")?.setAttribute("aria-pressed", "true");
  }

  cineStop() {
    clearInterval(this.cineTimer);
    this.cineTimer = null;
    this.root.querySelector("[data-action=cine]")?.setAttribute("aria-pressed", "false");
  }

  cornersUpdate() {
    if (!this.viewport || !this.imageIds.length) return;
    const index = this.viewport.getCurrentImageIdIndex();
    const { voiRange } = this.viewport.getProperties();
    this.corners.tl.textContent = `${this.modality} ${this.seriesLabel}`.trim();
    this.corners.tr.textContent = `Im ${index + 1}/${this.imageIds.length}`;
    if (voiRange) {
      const { windowWidth, windowCenter } = coreUtilities.windowLevel.toWindowLevel(
        voiRange.lower,
        voiRange.upper,
      );
      this.corners.bl.textContent = `W ${Math.round(windowWidth)} L ${Math.round(windowCenter)}`;
    }
    this.corners.br.textContent = `Zoom ${this.viewport.getZoom().toFixed(2)}×`;
    this.slider.value = index + 1;
    this.slider.setAttribute("aria-valuetext", `Image ${index + 1} of ${this.imageIds.length}`);
    this.root.dataset.slice = String(index + 1);
  }

  // --- Overlays ---------------------------------------------------------------------------

  /** The page's overlay layers (data-overlays) and the study's SEG series become layers.
   * SEG series the page names (or all, for "auto") are shown; the study's other SEG series
   * are listed and loaded when shown. Heat maps and label maps are PNGs by URL. */
  async layersSetUp() {
    const named = this.root.dataset.overlays || "[]";
    const entries = named === "auto" ? [] : this.jsonData("overlays", []);
    const wantedSegs = named === "auto" ? null : new Set();
    const layers = [];
    for (const entry of Array.isArray(entries) ? entries : []) {
      const type = entry?.type ?? (entry?.series ? "seg" : "");
      const slice = Number.isInteger(entry.slice) && entry.slice > 0 ? entry.slice : null;
      const opacity = Number.isFinite(Number(entry.opacity))
        ? Math.min(Math.max(Number(entry.opacity), 0), 1)
        : 0.5;
      if (type === "seg") {
        wantedSegs?.add(entry.series);
      } else if ((type === "heatmap" || type === "labelmap") && entry.url) {
        layers.push({
          kind: type,
          title: String(entry.label || (type === "heatmap" ? "Heat map" : "Label map")),
          url: String(entry.url),
          legendEntries: Array.isArray(entry.legend) ? entry.legend : [],
          slice,
          visible: entry.visible !== false,
          opacity,
        });
      } else if (type === "boxes" && Array.isArray(entry.boxes)) {
        // Boxes are vectors (a prompt the resident drew, a detector's findings): drawn as
        // outlines over the image, opaque unless the page says otherwise.
        layers.push({
          kind: "boxes",
          title: String(entry.label || "Boxes"),
          boxes: entry.boxes,
          slice,
          visible: entry.visible !== false,
          opacity: entry.opacity === undefined ? 1 : opacity,
        });
      }
    }
    for (const series of this.series.filter((s) => s.modality === "SEG")) {
      layers.push({
        kind: "seg",
        title: `SEG ${series.description || series.number}`,
        series,
        slice: null,
        visible: wantedSegs === null || wantedSegs.has(series.uid),
        opacity: 0.4,
      });
    }
    if (!layers.length) return;
    this.layersPanel.hidden = false;
    const heading = document.createElement("h3");
    heading.textContent = "Overlays";
    this.layersPanel.append(heading);
    for (const layer of layers) {
      Object.assign(layer, { data: null, painted: new Map() });
      this.layers.push(layer);
      this.layerControlsRender(layer);
    }
    await Promise.all(layers.filter((layer) => layer.visible).map((layer) => this.layerLoad(layer)));
    this.overlayDraw();
    this.root.dataset.layers = "ready";
  }

  async layerLoad(layer) {
    if (layer.data) return;
    layer.loading ??= this.layerFetch(layer);
    await layer.loading;
  }

  async layerFetch(layer) {
    layer.status.textContent = "loading…";
    try {
      if (layer.kind === "seg") {
        layer.data = await segLayerLoad({
          root: this.dicomwebRoot,
          studyUID: this.studyUID,
          seriesUID: layer.series.uid,
          imagePositions: (position) =>
            this.instances.find(
              (i) =>
                i.position.length === 3 &&
                i.position.every((v, k) => Math.abs(v - position[k]) < 0.01),
            )?.sop,
        });
      } else if (layer.kind === "boxes") {
        layer.data = boxesLayerLoad({ boxes: layer.boxes });
      } else {
        const data =
          layer.kind === "heatmap"
            ? await heatmapLayerLoad({ url: layer.url })
            : await labelmapLayerLoad({ url: layer.url, legend: layer.legendEntries });
        const { rows, columns } = this.imageSize(layer.slice ? layer.slice - 1 : 0);
        if (rows && (data.rows !== rows || data.columns !== columns)) {
          throw new Error(
            `it is ${data.columns}×${data.rows} pixels, the image ${columns}×${rows}`,
          );
        }
        layer.data = data;
      }
      layer.status.textContent = layer.slice ? `on image ${layer.slice} only` : "";
      this.layerLegendRender(layer);
    } catch (error) {
      console.error(error);
      layer.status.textContent = `could not be shown: ${error.message ?? error}`;
      layer.visible = false;
      layer.checkbox.checked = false;
      layer.checkbox.disabled = true;
      layer.loading = null;
    }
  }

  /** Rows and columns of one image of the stack, from its header. */
  imageSize(index) {
    const imageId = this.imageIds[Math.min(index, this.imageIds.length - 1)];
    const pixel = metaData.get("imagePixelModule", imageId) ?? {};
    return { rows: Number(pixel.rows) || 0, columns: Number(pixel.columns) || 0 };
  }

  layerLegendRender(layer) {
    if (layer.kind === "heatmap") {
      const ramp = document.createElement("li");
      ramp.className = "viewer-ramp";
      const bar = document.createElement("span");
      bar.className = "viewer-ramp-bar";
      bar.style.backgroundImage = HEATMAP_GRADIENT;
      const low = document.createElement("span");
      low.textContent = "low";
      const high = document.createElement("span");
      high.textContent = "high";
      ramp.append(low, bar, high);
      layer.legend.replaceChildren(ramp);
      return;
    }
    layer.legend.replaceChildren(
      ...layer.data.segments.map((segment) => {
        const item = document.createElement("li");
        const swatch = document.createElement("span");
        swatch.className = "swatch";
        swatch.style.background = `rgb(${segment.colour.join(" ")})`;
        item.append(swatch, ` ${segment.label}`);
        return item;
      }),
    );
  }

  layerControlsRender(layer) {
    const box = document.createElement("fieldset");
    box.className = "viewer-layer";
    box.dataset.kind = layer.kind;
    const legendTitle = document.createElement("legend");
    legendTitle.textContent = layer.title;
    const show = document.createElement("label");
    const checkbox = document.createElement("input");
    checkbox.type = "checkbox";
    checkbox.checked = layer.visible;
    checkbox.className = "viewer-layer-visible";
    show.append(checkbox, " Show");
    const opacityLabel = document.createElement("label");
    const opacity = document.createElement("input");
    opacity.type = "range";
    opacity.min = 0;
    opacity.max = 100;
    opacity.value = Math.round(layer.opacity * 100);
    opacity.className = "viewer-layer-opacity";
    opacity.setAttribute("aria-label", `${layer.title} opacity`);
    opacityLabel.append("Opacity ", opacity);
    const status = document.createElement("span");
    status.className = "muted";
    status.setAttribute("role", "status");
    const legend = document.createElement("ul");
    legend.className = "viewer-legend";
    box.append(legendTitle, show, opacityLabel, status, legend);
    this.layersPanel.append(box);
    Object.assign(layer, { box, checkbox, opacityInput: opacity, status, legend });
    checkbox.addEventListener("change", () =>
      this.layerSet(layer, { visible: checkbox.checked }),
    );
    opacity.addEventListener("input", () =>
      this.layerSet(layer, { opacity: Number(opacity.value) / 100 }),
    );
  }

  /** Visibility / opacity of a layer; the same layer (kind and title) of linked viewers
   * follows, so "original vs broken" keep showing the same things. */
  async layerSet(layer, { visible, opacity }, { fromLink = false } = {}) {
    if (visible !== undefined) {
      layer.visible = visible;
      layer.checkbox.checked = visible;
    }
    if (opacity !== undefined) {
      layer.opacity = opacity;
      layer.opacityInput.value = Math.round(opacity * 100);
    }
    if (!fromLink) {
      for (const other of linkedViewersOf(this)) {
        const twin = other.layers.find((l) => l.kind === layer.kind && l.title === layer.title);
        if (twin && !twin.checkbox.disabled) other.layerSet(twin, { visible, opacity }, { fromLink: true });
      }
    }
    if (layer.visible) await this.layerLoad(layer);
    this.overlayDraw();
  }

  /** The layers as drawn on the current image: what a test or page code can ask. */
  layersState() {
    return this.layers.map((layer) => ({
      kind: layer.kind,
      title: layer.title,
      visible: layer.visible,
      opacity: layer.opacity,
      loaded: Boolean(layer.data),
      slice: layer.slice,
      ...(layer.kind === "boxes" ? { boxes: layer.data?.boxes.map((b) => b.box) ?? [] } : {}),
    }));
  }

  overlayDraw() {
    const canvas = this.overlayCanvas;
    if (!canvas || !this.viewport || !this.imageIds.length) return;
    const ratio = window.devicePixelRatio || 1;
    const { clientWidth: width, clientHeight: height } = this.element;
    if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
    if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
    const context = canvas.getContext("2d");
    context.setTransform(1, 0, 0, 1, 0, 0);
    context.clearRect(0, 0, canvas.width, canvas.height);
    const index = this.viewport.getCurrentImageIdIndex();
    const imageId = this.imageIds[index];
    const sop = this.instances[index]?.sop;
    for (const layer of this.layers) {
      if (!layer.visible || !layer.data) continue;
      if (layer.slice && layer.slice !== index + 1) continue;
      const corner = (column, row) =>
        this.viewport.worldToCanvas(coreUtilities.imageToWorldCoords(imageId, [column, row]));
      if (layer.kind === "boxes") {
        context.globalAlpha = layer.opacity;
        boxesLayerDraw(context, layer.data, corner, ratio);
        continue;
      }
      let painted;
      if (layer.kind === "seg") {
        if (!layer.painted.has(sop)) layer.painted.set(sop, segLayerPaint(layer.data, sop));
        painted = layer.painted.get(sop);
      } else {
        painted = layer.data.canvas;
      }
      if (!painted) continue;
      // Image (column, row) -> canvas, from three corners of the image (PS3.3 C.7.6.2.1.1):
      // the viewport's own camera, so zoom, pan, flip and rotation carry over exactly.
      const [x0, y0] = corner(0, 0);
      const [x1, y1] = corner(layer.data.columns, 0);
      const [x2, y2] = corner(0, layer.data.rows);
      context.setTransform(
        (ratio * (x1 - x0)) / layer.data.columns,
        (ratio * (y1 - y0)) / layer.data.columns,
        (ratio * (x2 - x0)) / layer.data.rows,
        (ratio * (y2 - y0)) / layer.data.rows,
        ratio * x0,
        ratio * y0,
      );
      // Labels keep hard edges; a heat map is a continuous field.
      context.imageSmoothingEnabled = layer.kind === "heatmap";
      context.globalAlpha = layer.opacity;
      context.drawImage(painted, 0, 0);
    }
    context.globalAlpha = 1;
  }

  // --- Answers on images ------------------------------------------------------------------

  answersSerialize() {
    if (!this.answerField) return;
    const marks = [];
    this.answerUids = new Set();
    for (const [kind, toolName] of Object.entries(ANSWER_TOOLS)) {
      for (const item of annotation.state.getAnnotations(toolName, this.element) ?? []) {
        this.answerUids.add(item.annotationUID);
        const imageId = item.metadata.referencedImageId;
        const index = this.imageIds.indexOf(imageId);
        if (index < 0) continue; // a mark on another series of the same frame of reference
        const world =
          kind === "outline" ? (item.data.contour?.polyline ?? []) : item.data.handles.points;
        const points = kind === "box" ? [world[0], world[3]] : world;
        const mark = {
          kind,
          slice: index + 1,
          sopInstanceUID: this.instances[index]?.sop,
          frame: this.instances[index]?.frame,
          // Column, row in pixels; (0, 0) is the top-left corner of the first pixel.
          image: points.map((p) =>
            coreUtilities.worldToImageCoords(imageId, p).map((v) => Number(v.toFixed(2))),
          ),
          // Patient coordinates (LPS, mm; PS3.3 C.7.6.2.1.1).
          patient: points.map((p) => p.map((v) => Number(v.toFixed(2)))),
          ...(kind === "outline" ? { closed: Boolean(item.data.contour?.closed) } : {}),
        };
        // A mark drawn again from the page and not moved since is posted exactly as it
        // came (recomputing from rounded numbers could change the last digit).
        const restored = item.metadata.restoredMark;
        marks.push(restored && marksAlike(restored, mark) ? restored : mark);
      }
    }
    const value = JSON.stringify({
      studyInstanceUID: this.studyUID,
      seriesInstanceUID: this.seriesUID,
      marks,
    });
    // Only a new answer is posted: a redraw or a mark on another viewer changes nothing.
    if (value === this.answerField.value) return;
    this.answerField.value = value;
    this.answerField.dispatchEvent(new Event("change", { bubbles: true }));
  }

  /** The mark is one of this viewer's answer marks (or was, when it has been removed). */
  answerOwns(item) {
    if (!this.answerField || !item) return false;
    if (this.answerUids.has(item.annotationUID)) return true;
    const own = annotation.state.getAnnotations(item.metadata?.toolName, this.element) ?? [];
    return own.includes(item);
  }

  /** A mark changed: post it once the resident lets go. Cornerstone reports every step of a
   * drag; posting those would save a half-drawn box, and on a slow machine a save of a
   * half-drawn box could be the one the page reports (and scores) last. */
  answersChanged() {
    if (this.pointerHeld) {
      this.answersPending = true;
      return;
    }
    this.answersPending = false;
    this.answersSerialize();
  }

  /** Marks the page hands back (data-answer-initial: the JSON this viewer posted, e.g.
   * when the form came back with an error) are drawn again, editable, and fill the field. */
  answersRestore(initial) {
    if (!this.answerField || !Array.isArray(initial?.marks)) return;
    const camera = this.viewport.getCamera();
    const frameOfReferenceUID = this.viewport.getFrameOfReferenceUID();
    const isPair = (p) => Array.isArray(p) && p.length === 2 && p.every(Number.isFinite);
    let firstIndex = -1;
    for (const mark of initial.marks) {
      const toolName = ANSWER_TOOLS[mark?.kind];
      const index = this.instances.findIndex(
        (i) => i.sop === mark?.sopInstanceUID && i.frame === (Number(mark.frame) || 1),
      );
      const image = Array.isArray(mark?.image) ? mark.image.filter(isPair) : [];
      if (!toolName || index < 0 || !image.length) continue;
      const imageId = this.imageIds[index];
      const world = (column, row) => coreUtilities.imageToWorldCoords(imageId, [column, row]);
      const data = { handles: { points: [], activeHandleIndex: null }, label: "", cachedStats: {} };
      if (mark.kind === "point") {
        data.handles.points = [world(...image[0])];
      } else if (mark.kind === "box") {
        if (image.length < 2) continue;
        const [[c0, r0], [c3, r3]] = image;
        // RectangleROI's corners: 0 and 3 are the drawn diagonal, 1 and 2 the other two.
        data.handles.points = [world(c0, r0), world(c3, r0), world(c0, r3), world(c3, r3)];
      } else {
        if (image.length < 3) continue;
        data.contour = { polyline: image.map((p) => world(...p)), closed: mark.closed !== false };
      }
      if (firstIndex < 0) firstIndex = index;
      annotation.state.addAnnotation(
        {
          annotationUID: coreUtilities.uuidv4(),
          highlighted: false,
          invalidated: true,
          isLocked: false,
          isVisible: true,
          autoGenerated: false,
          metadata: {
            toolName,
            restoredMark: mark,
            FrameOfReferenceUID: frameOfReferenceUID,
            referencedImageId: imageId,
            viewPlaneNormal: [...camera.viewPlaneNormal],
            viewUp: [...camera.viewUp],
          },
          data,
        },
        this.element,
      );
    }
    // The resident sees their marks again where they left them.
    if (firstIndex >= 0 && firstIndex !== this.viewport.getCurrentImageIdIndex()) {
      this.viewport.setImageIdIndex(firstIndex);
    }
    this.viewport.render();
    this.answersSerialize();
  }

  answersClear() {
    for (const toolName of Object.values(ANSWER_TOOLS)) {
      for (const item of annotation.state.getAnnotations(toolName, this.element) ?? []) {
        annotation.state.removeAnnotation(item.annotationUID);
      }
    }
    this.viewport.render();
    this.answersSerialize();
  }

  // --- For tests and other page code ---------------------------------------------------

  /** Page (CSS pixel) position of an image point given as column, row. */
  imageToPage([column, row]) {
    const imageId = this.viewport.getCurrentImageId();
    const world = coreUtilities.imageToWorldCoords(imageId, [column, row]);
    const [x, y] = this.viewport.worldToCanvas(world);
    const box = this.element.getBoundingClientRect();
    return [box.left + x, box.top + y];
  }

  /** The answer marks this viewer draws on the image it shows: kind and image points. */
  answerMarksShown() {
    const imageId = this.viewport.getCurrentImageId();
    return Object.entries(ANSWER_TOOLS).flatMap(([kind, toolName]) =>
      (annotation.state.getAnnotations(toolName, this.element) ?? [])
        .filter((item) => item.metadata.referencedImageId === imageId)
        .map((item) => ({
          kind,
          image: (kind === "outline"
            ? (item.data.contour?.polyline ?? [])
            : item.data.handles.points
          ).map((p) => coreUtilities.worldToImageCoords(imageId, p)),
        })),
    );
  }

  /** The lengths (mm) of the length measurements on this viewer. */
  lengthsMm() {
    return (annotation.state.getAnnotations(LengthTool.toolName, this.element) ?? []).map(
      (item) => Object.values(item.data.cachedStats ?? {})[0]?.length,
    );
  }

  // --- Controls ---------------------------------------------------------------------------

  controlsBind() {
    const element = this.element;
    element.addEventListener(CoreEnums.Events.STACK_NEW_IMAGE, () => this.cornersUpdate());
    element.addEventListener(CoreEnums.Events.VOI_MODIFIED, () => {
      this.cornersUpdate();
      this.presetFollowWindow();
    });
    element.addEventListener(CoreEnums.Events.CAMERA_MODIFIED, () => this.cornersUpdate());
    element.addEventListener(CoreEnums.Events.IMAGE_RENDERED, () => {
      this.overlayDraw();
      this.root.dataset.rendered = String(Number(this.root.dataset.rendered || 0) + 1);
    });
    element.addEventListener("contextmenu", (event) => event.preventDefault());
    for (const name of [
      ToolEnums.Events.ANNOTATION_COMPLETED,
      ToolEnums.Events.ANNOTATION_MODIFIED,
      ToolEnums.Events.ANNOTATION_REMOVED,
    ]) {
      // Annotation events are dispatched on Cornerstone's global event target.
      eventTarget.addEventListener(name, (event) => {
        if (this.answerOwns(event.detail?.annotation)) this.answersChanged();
      });
    }
    if (this.answerField) {
      element.addEventListener("pointerdown", () => {
        this.pointerHeld = true;
      });
      // Released anywhere: a drag may end outside the image.
      for (const name of ["pointerup", "pointercancel"]) {
        window.addEventListener(name, () => {
          if (!this.pointerHeld) return;
          this.pointerHeld = false;
          // Cornerstone finishes the mark in its own mouseup handler, after this one.
          setTimeout(() => this.answersPending && this.answersChanged(), 0);
        });
      }
    }
    this.slider.addEventListener("input", () => this.sliceGo(Number(this.slider.value) - 1));
    this.presetSelect.addEventListener("change", () => this.presetApply(this.presetSelect.value));
    this.root.addEventListener("click", (event) => {
      const button = event.target.closest("button");
      if (!button || !this.root.contains(button)) return;
      if (button.dataset.tool) this.toolSelect(button.dataset.tool);
      if (button.dataset.action) this.action(button.dataset.action);
    });
    this.root.addEventListener("keydown", (event) => this.keydown(event));
  }

  action(name) {
    const actions = {
      invert: () => this.invertToggle(),
      "flip-h": () => this.flip("h"),
      "flip-v": () => this.flip("v"),
      rotate: () => this.rotate(),
      reset: () => this.reset(),
      cine: () => this.cineToggle(),
      help: () => this.helpToggle(),
      "answers-clear": () => this.answersClear(),
      "zoom-in": () => this.zoomBy(1.25),
      "zoom-out": () => this.zoomBy(0.8),
    };
    actions[name]?.();
  }

  helpToggle(show = this.help.hidden) {
    this.help.hidden = !show;
    if (show) this.help.querySelector("button")?.focus();
    else this.element.focus();
  }

  keydown(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.matches("select, input:not([type=range])")) return;
    const keys = {
      ArrowDown: () => this.sliceStep(1),
      ArrowRight: () => this.sliceStep(1),
      PageDown: () => this.sliceStep(10),
      ArrowUp: () => this.sliceStep(-1),
      ArrowLeft: () => this.sliceStep(-1),
      PageUp: () => this.sliceStep(-10),
      Home: () => this.sliceGo(0),
      End: () => this.sliceGo(this.imageIds.length - 1),
      " ": () => this.cineToggle(),
      i: () => this.invertToggle(),
      h: () => this.flip("h"),
      v: () => this.flip("v"),
      r: () => this.rotate(),
      x: () => this.reset(),
      "+": () => this.zoomBy(1.25),
      "=": () => this.zoomBy(1.25),
      "-": () => this.zoomBy(0.8),
      w: () => this.toolSelect("window"),
      p: () => this.toolSelect("pan"),
      z: () => this.toolSelect("zoom"),
      l: () => this.toolSelect("length"),
      e: () => this.toolSelect("ellipse"),
      "?": () => this.helpToggle(),
      Escape: () => this.helpToggle(false),
      0: () => this.presetApply("auto"),
    };
    CT_PRESET_KEYS.forEach((key, i) => {
      keys[String(i + 1)] = () => this.modality === "CT" && this.presetApply(key);
    });
    if (this.answerField) {
      keys.m = () => this.toolSelect("point");
      keys.b = () => this.toolSelect("box");
      keys.o = () => this.toolSelect("outline");
    }
    // The slider and buttons keep their own arrow and space keys.
    if (target.matches("input[type=range]") && event.key.startsWith("Arrow")) return;
    if (target.matches("button") && (event.key === " " || event.key === "Enter")) return;
    const handler = keys[event.key];
    if (!handler || !this.viewport) return;
    if (event.key === "Escape" && this.help.hidden) return;
    event.preventDefault();
    handler();
  }
}

const linkSynchronizers = new Map();
const linkedViewers = new Map();

/** Viewers with the same data-link scroll, zoom/pan and window together ("original vs
 * broken", "image vs explanation"). */
function viewerLink(viewer) {
  let group = linkSynchronizers.get(viewer.linkGroup);
  if (!group) {
    const id = `link-${viewer.linkGroup}`;
    group = [
      synchronizers.createZoomPanSynchronizer(`${id}-zoompan`),
      synchronizers.createVOISynchronizer(`${id}-voi`, {
        syncInvertState: true,
        syncColormap: false,
      }),
    ];
    linkSynchronizers.set(viewer.linkGroup, group);
  }
  // Slices follow by index: the linked series are one geometry (a series and its
  // perturbed or explained copy), which Cornerstone's spatial slice sync would not assume.
  viewer.element.addEventListener(CoreEnums.Events.STACK_NEW_IMAGE, () => {
    const index = viewer.viewport.getCurrentImageIdIndex();
    for (const other of linkedViewers.get(viewer.linkGroup) ?? []) {
      if (other !== viewer && other.viewport?.getCurrentImageIdIndex() !== index) {
        other.sliceGo(index);
      }
    }
  });
  if (!linkedViewers.has(viewer.linkGroup)) linkedViewers.set(viewer.linkGroup, []);
  const members = linkedViewers.get(viewer.linkGroup);
  members.push(viewer);
  // The synchronizers pass on changes, not the state at joining, and each viewer opened on
  // its own image's window (a perturbed copy's pixel range, so its automatic window,
  // differs). The group's first viewer in page order (the original) sets the window of
  // all, whichever finished loading first.
  members.sort((a, b) =>
    a.root.compareDocumentPosition(b.root) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1,
  );
  for (const other of members.slice(1)) viewerWindowAdopt(other, members[0]);
  for (const synchronizer of group) {
    synchronizer.add({
      renderingEngineId: viewer.renderingEngine.id,
      viewportId: viewer.viewport.id,
    });
  }
}

/** `viewer` shows the window (and invert, and the preset's name) that `source` shows. */
function viewerWindowAdopt(viewer, source) {
  const { voiRange, invert } = source.viewport.getProperties();
  if (!voiRange) return;
  viewer.userInvert = Boolean(invert);
  viewer.viewport.setProperties({ voiRange: { ...voiRange }, invert: viewer.userInvert });
  viewer.presetShow(source.presetKey, source.presetRange);
  viewer.viewport.render();
  viewer.cornersUpdate();
}

/** Two answer marks are the same mark: kind, image and coordinates within rounding. */
function marksAlike(a, b) {
  const close = (x, y) =>
    Array.isArray(x) &&
    Array.isArray(y) &&
    x.length === y.length &&
    x.every((p, i) => p.length === y[i].length && p.every((v, k) => Math.abs(v - y[i][k]) <= 0.02));
  return (
    a.kind === b.kind &&
    a.sopInstanceUID === b.sopInstanceUID &&
    a.frame === b.frame &&
    close(a.image, b.image) &&
    close(a.patient, b.patient)
  );
}

/** The other viewers linked with this one (none until it has joined its group). */
function linkedViewersOf(viewer) {
  const group = linkedViewers.get(viewer.linkGroup) ?? [];
  return group.includes(viewer) ? group.filter((other) => other !== viewer) : [];
}

/** Mounts every viewer within `container` not yet mounted. */
async function viewersMount(container) {
  const viewers = [];
  const roots = [...container.querySelectorAll("[data-viewer]")];
  if (container.matches?.("[data-viewer]")) roots.push(container);
  for (const root of roots) {
    if (root.artefactViewer) continue;
    const viewer = new Viewer(root);
    root.artefactViewer = viewer;
    viewers.push(viewer.mount());
  }
  await Promise.all(viewers);
}

viewersMount(document);
// A lesson's viewers arrive with its reader's parts after the page has loaded (htmx swaps
// them in; curriculum.lesson_shell): each new piece of content is looked through too.
document.addEventListener("htmx:load", (event) => viewersMount(event.detail.elt));
