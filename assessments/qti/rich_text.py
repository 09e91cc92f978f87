"""Prompt and explanation HTML (Wagtail rich text) to QTI 2.1 XHTML and back.

Both directions copy an allow-list of elements and attributes and nothing else: an exported
item carries no Wagtail-internal markup (page links, block keys), and an imported one can
bring no script, handler attribute or style into a page that shows it (the bank renders
prompts with |richtext, which does not clean). Text is always copied as text, so markup in
it stays escaped.
"""

from __future__ import annotations

import html
from urllib.parse import urlsplit

from lxml import etree
from lxml import html as lxml_html

from assessments.qti import QTI_NS

# Elements both sides know; anything else is unwrapped (its text kept), except DROPPED.
BLOCK_TAGS = frozenset({"p", "ul", "ol", "li", "blockquote", "pre", "h2", "h3", "h4", "div"})
INLINE_TAGS = frozenset({"b", "i", "strong", "em", "sup", "sub", "span", "code", "br", "a"})
ALLOWED_TAGS = BLOCK_TAGS | INLINE_TAGS
DROPPED_TAGS = frozenset({"script", "style", "iframe", "object", "embed", "template", "svg"})
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
EMPTY_TAGS = frozenset({"br"})


def _safe_href(value: str | None) -> str | None:
    if not value:
        return None
    scheme = urlsplit(value.strip()).scheme.lower()
    return value.strip() if scheme in LINK_SCHEMES else None


def _local(tag) -> str:
    if not isinstance(tag, str):
        return ""
    return etree.QName(tag).localname.lower()


# --- HTML -> QTI -----------------------------------------------------------------------------


def _append_text(parent: etree._Element, text: str | None) -> None:
    if not text:
        return
    if len(parent):
        parent[-1].tail = (parent[-1].tail or "") + text
    else:
        parent.text = (parent.text or "") + text


def _copy_into_qti(source: etree._Element, target: etree._Element) -> None:
    _append_text(target, source.text)
    for child in source:
        if not isinstance(child.tag, str):  # comments, processing instructions
            _append_text(target, child.tail)
            continue
        name = _local(child.tag)
        if name in DROPPED_TAGS:
            _append_text(target, child.tail)
            continue
        if name in ALLOWED_TAGS:
            href = _safe_href(child.get("href")) if name == "a" else None
            element_name = "span" if name == "a" and href is None else name
            element = etree.SubElement(target, f"{{{QTI_NS}}}{element_name}")
            if href:
                element.set("href", href)
            _copy_into_qti(child, element)
        else:
            _copy_into_qti(child, target)
        _append_text(target, child.tail)


def html_to_qti(markup: str, parent: etree._Element) -> None:
    """Append `markup` (rich text) to `parent` as QTI block content: top-level text and
    inline elements outside a block are wrapped in a <p>."""
    if not (markup or "").strip():
        return
    holder = etree.Element(f"{{{QTI_NS}}}div")
    for fragment in lxml_html.fragments_fromstring(markup):
        if isinstance(fragment, str):
            _append_text(holder, fragment)
            continue
        wrapper = etree.Element("wrapper")
        wrapper.append(fragment)
        _copy_into_qti(wrapper, holder)
    loose: etree._Element | None = None

    def loose_paragraph() -> etree._Element:
        nonlocal loose
        if loose is None:
            loose = etree.SubElement(parent, f"{{{QTI_NS}}}p")
        return loose

    if holder.text and holder.text.strip():
        _append_text(loose_paragraph(), holder.text)
    for child in list(holder):
        tail, child.tail = child.tail, None
        if _local(child.tag) in BLOCK_TAGS:
            parent.append(child)
            loose = None
        else:
            loose_paragraph().append(child)
        if tail and tail.strip():
            _append_text(loose_paragraph(), tail)


# --- QTI -> HTML -----------------------------------------------------------------------------


CONTAINER_TAGS = frozenset({"ul", "ol", "div", "blockquote"})


def inner_html(element: etree._Element) -> str:
    """The element's content (not the element itself) as allow-listed HTML. In containers
    of blocks, whitespace-only text between the blocks is indentation and is dropped."""
    container = _local(element.tag) in CONTAINER_TAGS

    def text(value: str | None) -> str:
        if container and not (value or "").strip():
            return ""
        return html.escape(value or "", quote=False)

    parts = [text(element.text)]
    for child in element:
        if isinstance(child.tag, str):
            parts.append(qti_to_html(child))
        parts.append(text(child.tail))
    return "".join(parts)


def qti_to_html(element: etree._Element) -> str:
    """One QTI content element as allow-listed HTML (escaped text, safe links only)."""
    if not isinstance(element.tag, str):
        return ""
    name = _local(element.tag)
    if name in DROPPED_TAGS:
        return ""
    inner = inner_html(element)
    if name not in ALLOWED_TAGS:
        return inner
    if name in EMPTY_TAGS:
        return f"<{name}/>"
    if name == "a":
        href = _safe_href(element.get("href"))
        if href is None:
            return inner
        return f'<a href="{html.escape(href, quote=True)}">{inner}</a>'
    return f"<{name}>{inner}</{name}>"


def plain_text(element: etree._Element, *, skip: frozenset[str] = frozenset()) -> str:
    """The element's text, without the subtrees named in `skip`, whitespace collapsed."""
    parts = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str) and _local(child.tag) not in {s.lower() for s in skip}:
            parts.append(plain_text(child, skip=skip))
        parts.append(child.tail or "")
    return " ".join("".join(parts).split())
