/**
 * Layout questions asked of an element in the browser, for the e2e tests. The tests' TypeScript
 * program has no DOM types (it runs in Node), so the few browser APIs the page-side functions
 * use are declared here, for this module only.
 */
import type { Locator } from 'playwright-core';

interface Rect {
  readonly top: number;
  readonly left: number;
  readonly right: number;
  readonly bottom: number;
  readonly width: number;
  readonly height: number;
}
interface PageText {
  readonly data: string;
}
interface PageElement {
  readonly textContent: string | null;
  readonly parentElement: PageElement | null;
  readonly scrollWidth: number;
  readonly clientWidth: number;
  getBoundingClientRect(): Rect;
  contains(other: unknown): boolean;
}
interface PageRange {
  setStart(node: PageText, offset: number): void;
  setEnd(node: PageText, offset: number): void;
  getBoundingClientRect(): Rect;
}
declare const window: { readonly innerWidth: number; readonly innerHeight: number };
declare const document: {
  elementFromPoint(x: number, y: number): unknown;
  createRange(): PageRange;
  createTreeWalker(root: PageElement, whatToShow: number): { nextNode(): PageText | null };
};
declare const NodeFilter: { readonly SHOW_TEXT: number };
declare function getComputedStyle(element: PageElement): { readonly overflowY: string; readonly display: string };

export interface Placement {
  /** Wholly inside the window. */
  inViewport: boolean;
  /** Wholly inside its nearest scrolling ancestor (a dialog's content), which clips the rest. */
  inScrollport: boolean;
  /** A click at each of its corners lands on it (no overlay, sticky bar or clipping in the way). */
  reachable: boolean;
  /** "left,top width×height", for messages. */
  box: string;
}

/** Where a control is, and whether it can be clicked where it is, without scrolling. */
export const placement = (control: Locator): Promise<Placement> =>
  control.evaluate((el: PageElement): Placement => {
    const r = el.getBoundingClientRect();
    const inViewport = r.top >= 0 && r.left >= 0 && r.bottom <= window.innerHeight && r.right <= window.innerWidth;
    let scroller = el.parentElement;
    while (scroller !== null && !['auto', 'scroll'].includes(getComputedStyle(scroller).overflowY)) scroller = scroller.parentElement;
    const s = scroller?.getBoundingClientRect();
    const inScrollport = s === undefined || (r.top >= s.top - 0.5 && r.bottom <= s.bottom + 0.5);
    const corners: [number, number][] = [
      [r.left + 3, r.top + 3],
      [r.right - 3, r.top + 3],
      [r.left + 3, r.bottom - 3],
      [r.right - 3, r.bottom - 3],
    ];
    const reachable = corners.every(([x, y]) => {
      const hit = document.elementFromPoint(x, y);
      return hit !== null && el.contains(hit);
    });
    return { inViewport, inScrollport, reachable, box: `${Math.round(r.left)},${Math.round(r.top)} ${Math.round(r.width)}×${Math.round(r.height)}` };
  });

export interface TextLayout {
  /** The element's text. */
  text: string;
  /** Its lines as laid out, from each character's position. */
  lines: string[];
  /** A character lies outside the box that holds the text (the element, or its block if inline). */
  overflows: boolean;
}

/** How an element's text is broken into lines, and whether it stays inside its box. */
export const textLayout = (el: Locator): Promise<TextLayout> =>
  el.evaluate((node: PageElement): TextLayout => {
    let box = node;
    while (getComputedStyle(box).display === 'inline' && box.parentElement !== null) box = box.parentElement;
    const bounds = box.getBoundingClientRect();
    const lines: string[] = [];
    let top: number | null = null;
    let line = '';
    let overflows = box.scrollWidth > box.clientWidth;
    const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
    for (let text = walker.nextNode(); text !== null; text = walker.nextNode()) {
      for (let i = 0; i < text.data.length; i++) {
        const range = document.createRange();
        range.setStart(text, i);
        range.setEnd(text, i + 1);
        const rect = range.getBoundingClientRect();
        if (rect.right > bounds.right + 0.5 || rect.left < bounds.left - 0.5) overflows = true;
        const at = Math.round(rect.top);
        if (top !== null && Math.abs(at - top) > 2) {
          lines.push(line);
          line = '';
        }
        top = at;
        line += text.data[i];
      }
    }
    lines.push(line);
    return { text: node.textContent ?? '', lines, overflows };
  });
