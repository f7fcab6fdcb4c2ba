/** What the lake holds for one topic around day D. */
export interface TopicState {
  topic: string;
  objectsOfDay: number;
  hasLaterData: boolean;
}

export interface Readiness {
  ready: boolean;
  /** One reason per topic that is not ready yet; empty when ready. */
  missing: string[];
}

/** Day D is complete enough when every topic has enough objects (and, if asked, data of a later day). */
export function judge(states: readonly TopicState[], minObjects: number, requireLaterData: boolean): Readiness {
  const missing: string[] = [];
  for (const s of states) {
    if (s.objectsOfDay < minObjects) missing.push(`${s.topic}: ${s.objectsOfDay} of ${minObjects} raw objects`);
    else if (requireLaterData && !s.hasLaterData) missing.push(`${s.topic}: nothing after the day yet`);
  }
  return { ready: missing.length === 0, missing };
}
