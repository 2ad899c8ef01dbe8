// The ad placements (Feed 1:1, Story 9:16 …) as the API's `placements` query answers them: the
// table's one home is providers/catalog.py; this reads it once per page load and keeps it for the
// screens that name placements (the form's picker, its words, the Jobs panel's rows).
import { useEffect, useState } from "preact/hooks";
import { gql } from "../api.js";

const PLACEMENTS = `query Placements { placements {
  placement name aspectRatio targetDurationSeconds
  providers { provider aspectRatio durationSeconds needsInputImage }
} }`;

let known = null;
let asking = null;
const waiting = new Set();

/** The placements, read once (a failed read is asked again next time). */
export function loadPlacements() {
  if (known) return Promise.resolve(known);
  if (!asking) {
    asking = gql(PLACEMENTS).then(
      (data) => {
        known = data.placements;
        for (const listener of waiting) listener(known);
        return known;
      },
      (error) => {
        asking = null;
        throw error;
      },
    );
  }
  return asking;
}

/** What is known so far (empty until the first read answers). */
export const placementsNow = () => known || [];
export const placementOf = (id) => placementsNow().find((p) => p.placement === id);

/** The placements for a component: { list, error, retry }; re-renders once they arrive. */
export function usePlacements() {
  const [state, setState] = useState({ list: known, error: null });
  const ask = () => {
    setState((s) => ({ ...s, error: null }));
    loadPlacements().then((list) => setState({ list, error: null }), (error) => setState({ list: null, error }));
  };
  useEffect(() => {
    const listener = (list) => setState({ list, error: null });
    waiting.add(listener);
    if (!known) ask();
    return () => waiting.delete(listener);
  }, []);
  return { ...state, retry: ask };
}

/** How `provider` makes a placement: { aspectRatio, durationSeconds, needsInputImage }, or null
 *  when it cannot (the placement is refused on it). */
export function servedBy(placement, provider) {
  return placement?.providers.find((p) => p.provider === provider) || null;
}
