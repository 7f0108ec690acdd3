/**
 * The two formats of a Read-Composite or Observe-Composite (TS Core 1.1 §5.4.4 / 1.2): the
 * Content-Format of the paths the request carries and the Accept of the answer. A device
 * may emit a format it does not read — Anjay-like clients answer in LwM2M CBOR but take the
 * paths only in SenML — so the two are negotiated apart: 4.15 (Unsupported Content-Format)
 * steps the body, 4.06 (Not Acceptable) steps the answer format.
 */

/** The pair to try now, and the next one after a refusal. */
export class CompositeFormats {
  #body = 0;
  #accept = 0;

  /** Both lists best first, neither empty. */
  constructor(
    private readonly bodies: readonly number[],
    private readonly accepts: readonly number[],
  ) {}

  /** Content-Format of the paths. */
  get body(): number {
    return this.bodies[this.#body] as number;
  }

  /** Accept: the format the answer is asked in. */
  get accept(): number {
    return this.accepts[this.#accept] as number;
  }

  /**
   * After an answer with `code`: moves to the next pair and says true, or says false when
   * the code is no format refusal or every candidate was tried. A device that mixes the two
   * codes up still gets every candidate of the other list once its own ran out.
   */
  step(code: string): boolean {
    if (code !== '4.15' && code !== '4.06') return false;
    const moreBodies = this.#body + 1 < this.bodies.length;
    const moreAccepts = this.#accept + 1 < this.accepts.length;
    if ((code === '4.15' && moreBodies) || (code === '4.06' && !moreAccepts && moreBodies)) {
      this.#body++;
      return true;
    }
    if (moreAccepts) {
      this.#accept++;
      return true;
    }
    return false;
  }
}
