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

/** The provider a form uses while the user has not picked one: the default when it makes every
 *  placement chosen, else (as generate* does for a request naming no provider) the first of the
 *  list that makes them all at their own ratio and target duration, else the first that makes them
 *  all. Returns { provider, instead } — `instead`: the placement the default cannot make — or the
 *  default alone when no other provider can make them either. */
export function providerFor(list, chosen, fallback, { withImage, video }) {
  const table = chosen.map(placementOf).filter(Boolean);
  const makes = (provider) => table.every((p) => {
    const served = servedBy(p, provider);
    return served && (!served.needsInputImage || withImage);
  });
  const exact = (provider) => table.every((p) => {
    const served = servedBy(p, provider);
    return served && served.aspectRatio === p.aspectRatio && (!video || served.durationSeconds === p.targetDurationSeconds);
  });
  if (!fallback || !table.length || makes(fallback)) return { provider: fallback, instead: null };
  const open = list.filter((p) => p.lifecycle !== "SHUT_DOWN" && p.provider !== fallback && makes(p.provider));
  const pick = open.find((p) => exact(p.provider)) || open[0];
  if (!pick) return { provider: fallback, instead: null };
  const instead = table.find((p) => { const served = servedBy(p, fallback); return !served || (served.needsInputImage && !withImage); });
  return { provider: pick.provider, instead };
}
