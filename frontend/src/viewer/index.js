// The Cornerstone3D viewer: mounts on every `[data-viewer]` element that
// templates/viewer/viewer.html renders, and reads pixels only through DICOMweb.
import {
  Enums as CoreEnums,
  RenderingEngine,
  eventTarget,
  imageLoader,
  init as coreInit,
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
import { segLayerLoad, segLayerPaint } from "./overlays.js";
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

let viewerCount = 0;

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
  }

  async mount() {
    if (!webgl2Available()) {
      this.fail("This browser cannot show images: the viewer needs WebGL 2.");
      return;
    }
    this.setBusy(true);
    try {
      await cornerstoneInit();
      this.renderingEngine = new RenderingEngine(`${this.id}-engine`);
      this.renderingEngine.enableElement({
        viewportId: `${this.id}-viewport`,
        type: CoreEnums.ViewportType.STACK,
        element: this.element,
        defaultOptions: { background: [0, 0, 0] },
      });
      this.viewport = this.renderingEngine.getViewport(`${this.id}-viewport`);
      this.toolsSetUp();
      this.controlsBind();
      this.series = await studySeriesList(this.dicomwebRoot, this.studyUID);
      const images = this.series.filter(isImageSeries);
      if (!images.length) throw new Error("This study holds no image series.");
      if (!this.seriesUID || !images.some((s) => s.uid === this.seriesUID)) {
        this.seriesUID = images[0].uid;
      }
      this.seriesPickerRender(images);
      await this.seriesLoad(this.seriesUID, {
        slice: this.initialSlice,
        preset: this.initialPreset,
      });
      this.root.dataset.state = "ready";
      if (this.linkGroup) viewerLink(this);
      await this.layersSetUp();
    } catch (error) {
      console.error(error);
      this.fail(
        error instanceof DicomwebAccessError
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
      button.setAttribute("aria-pressed", button.dataset.series === seriesUID ? "true" : "false");
    }
    this.viewport.render();
    this.cornersUpdate();
    performance.mark(`${this.id}-first-image`);
    this.root.dataset.firstImageMs = String(Math.round(performance.now()));
    this.prefetch(imageIds);
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
    group.addViewport(`${this.id}-viewport`, `${this.id}-engine`);
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
      if (!this.viewport.getProperties().voiRange) this.presetApply("mediastinum");
      this.presetSelect.value = "auto";
    } else if (preset.width) {
      this.viewport.setProperties({
        voiRange: coreUtilities.windowLevel.toLowHighRange(preset.width, preset.centre),
      });
      this.presetSelect.value = key;
    } else {
      this.viewport.resetProperties();
      this.presetSelect.value = "auto";
    }
    this.invertApply();
    this.viewport.render();
    this.cornersUpdate();
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

  /** SEG series of the study become layers: those the page names (data-overlays, or
   * "auto" for all) are loaded and shown; the others are listed, loaded when shown. */
  async layersSetUp() {
    const named = this.root.dataset.overlays || "[]";
    const wanted =
      named === "auto" ? null : new Set(JSON.parse(named).map((layer) => layer.series));
    const segs = this.series.filter((series) => series.modality === "SEG");
    if (!segs.length) return;
    this.layersPanel.hidden = false;
    const heading = document.createElement("h3");
    heading.textContent = "Overlays";
    this.layersPanel.append(heading);
    for (const series of segs) {
      const layer = {
        series,
        visible: wanted === null || wanted.has(series.uid),
        opacity: 0.4,
        data: null,
        painted: new Map(),
      };
      this.layers.push(layer);
      this.layerControlsRender(layer);
      if (layer.visible) await this.layerLoad(layer);
    }
    this.overlayDraw();
  }

  async layerLoad(layer) {
    if (layer.data) return;
    layer.status.textContent = "loading…";
    try {
      layer.data = await segLayerLoad({
        root: this.dicomwebRoot,
        studyUID: this.studyUID,
        seriesUID: layer.series.uid,
        imagePositions: (position) =>
          this.instances.find(
            (i) => i.position.length === 3 && i.position.every((v, k) => Math.abs(v - position[k]) < 0.01),
          )?.sop,
      });
      layer.status.textContent = "";
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
    } catch (error) {
      console.error(error);
      layer.status.textContent = "could not be loaded";
      layer.visible = false;
      layer.checkbox.checked = false;
    }
  }

  layerControlsRender(layer) {
    const box = document.createElement("fieldset");
    box.className = "viewer-layer";
    const legendTitle = document.createElement("legend");
    legendTitle.textContent = `${layer.series.modality} ${layer.series.description || layer.series.number}`;
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
    opacityLabel.append("Opacity ", opacity);
    const status = document.createElement("span");
    status.className = "muted";
    status.setAttribute("role", "status");
    const legend = document.createElement("ul");
    legend.className = "viewer-legend";
    box.append(legendTitle, show, opacityLabel, status, legend);
    this.layersPanel.append(box);
    Object.assign(layer, { checkbox, status, legend });
    checkbox.addEventListener("change", async () => {
      layer.visible = checkbox.checked;
      if (layer.visible) await this.layerLoad(layer);
      this.overlayDraw();
    });
    opacity.addEventListener("input", () => {
      layer.opacity = Number(opacity.value) / 100;
      this.overlayDraw();
    });
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
      if (!layer.painted.has(sop)) layer.painted.set(sop, segLayerPaint(layer.data, sop));
      const painted = layer.painted.get(sop);
      if (!painted) continue;
      // Image (column, row) -> canvas, from three corners of the image (PS3.3 C.7.6.2.1.1).
      const corner = (column, row) =>
        this.viewport.worldToCanvas(coreUtilities.imageToWorldCoords(imageId, [column, row]));
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
      context.imageSmoothingEnabled = false;
      context.globalAlpha = layer.opacity;
      context.drawImage(painted, 0, 0);
    }
  }

  // --- Answers on images ------------------------------------------------------------------

  answersSerialize() {
    if (!this.answerField) return;
    const marks = [];
    for (const [kind, toolName] of Object.entries(ANSWER_TOOLS)) {
      for (const item of annotation.state.getAnnotations(toolName, this.element) ?? []) {
        const imageId = item.metadata.referencedImageId;
        const index = this.imageIds.indexOf(imageId);
        const world =
          kind === "outline" ? (item.data.contour?.polyline ?? []) : item.data.handles.points;
        const points = kind === "box" ? [world[0], world[3]] : world;
        marks.push({
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
        });
      }
    }
    this.answerField.value = JSON.stringify({
      studyInstanceUID: this.studyUID,
      seriesInstanceUID: this.seriesUID,
      marks,
    });
    this.answerField.dispatchEvent(new Event("change", { bubbles: true }));
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
    element.addEventListener(CoreEnums.Events.VOI_MODIFIED, () => this.cornersUpdate());
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
        if (event.detail?.annotation?.metadata?.referencedImageId?.includes(this.seriesUID)) {
          this.answersSerialize();
        }
      });
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
  linkedViewers.get(viewer.linkGroup).push(viewer);
  for (const synchronizer of group) {
    synchronizer.add({
      renderingEngineId: viewer.renderingEngine.id,
      viewportId: viewer.viewport.id,
    });
  }
}

async function viewersMount() {
  const viewers = [];
  for (const root of document.querySelectorAll("[data-viewer]")) {
    const viewer = new Viewer(root);
    root.artefactViewer = viewer;
    viewers.push(viewer.mount());
  }
  await Promise.all(viewers);
}

viewersMount();
