// What every screen may read: the signed-in viewer and the team's live balance (creditBalanceUpdated).
import { createContext } from "preact";
import { useContext } from "preact/hooks";

export const AppContext = createContext({ viewer: null, balance: null });

/** { viewer, balance } of the signed-in tab. */
export function useApp() {
  return useContext(AppContext);
}
