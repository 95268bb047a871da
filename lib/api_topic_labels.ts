/**
 * Which topics get metric series of their own. Prometheus keeps every label value it has seen, and a topic name
 * is chosen by the application (and, at an all-topics relay, by whoever publishes), so at most
 * {@link MAX_TOPIC_LABELS} topics are labelled and the rest are summed under {@link OTHER_TOPICS_LABEL}.
 * Subscribed topics come first, then those with most traffic; a topic keeps its label while the node stays
 * in it (only a subscribed topic may take a relayed one's), so counters do not hop between series and
 * `_other` moves only as the node joins and leaves topics.
 *
 * @module
 */

/** Most topics with series of their own. */
export const MAX_TOPIC_LABELS = 32;

/**
 * The `topic` label of the sum over every other topic. A topic of that very name is counted in it too, so no
 * two series ever share a label.
 */
export const OTHER_TOPICS_LABEL = "_other";

/** A topic as the label choice sees it. */
export interface TopicTraffic {
  /** Its name. */
  topic: string;
  /** Whether the application subscribed to it (else the node relays it for every topic). */
  subscribed: boolean;
  /** Messages it has carried: ranks topics for the free labels. */
  traffic: number;
}

/** The topics labelled so far, kept from one scrape to the next. */
export class TopicLabels {
  /** Most topics labelled. */
  readonly max: number;
  #labelled = new Set<string>();

  /** @param max most topics labelled, default {@link MAX_TOPIC_LABELS} */
  constructor(max = MAX_TOPIC_LABELS) {
    if (!Number.isSafeInteger(max) || max < 0) throw new RangeError("the topic label bound must be an integer >= 0");
    this.max = max;
  }

  /** The topics of `topics` to label now: at most the bound, each labelled before kept while still listed. */
  choose(topics: readonly TopicTraffic[]): ReadonlySet<string> {
    const listed = new Map(topics.filter((t) => t.topic !== OTHER_TOPICS_LABEL).map((t) => [t.topic, t]));
    const kept = new Set([...this.#labelled].filter((topic) => listed.has(topic)));
    const busiestFirst = [...listed.values()].filter((t) => !kept.has(t.topic)).sort((a, b) =>
      Number(b.subscribed) - Number(a.subscribed) || b.traffic - a.traffic || (a.topic < b.topic ? -1 : 1)
    );
    for (const candidate of busiestFirst) {
      if (kept.size >= this.max) {
        if (!candidate.subscribed) break;
        // A subscribed topic takes the label of the quietest relayed one, if any is labelled.
        const relayed = [...kept].map((topic) => listed.get(topic)!).filter((t) => !t.subscribed);
        if (relayed.length === 0) break;
        kept.delete(relayed.reduce((a, b) => (b.traffic < a.traffic ? b : a)).topic);
      }
      kept.add(candidate.topic);
    }
    this.#labelled = kept;
    return kept;
  }
}

/** `value` escaped for a Prometheus label value (backslash, double quote and line feed). */
export function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}
