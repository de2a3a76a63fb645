/** The SiteWise data-plane limits both the edge publisher and the calibration job work within
 * (shared/reference/sitewise-api.md §4). */

/** BatchPutAssetPropertyValue: entries per call and values per entry. */
export const PUT_ENTRIES_PER_CALL = 10;
export const PUT_VALUES_PER_ENTRY = 10;
/** BatchGetAssetPropertyValueHistory: entries per call, points per page. */
export const HISTORY_ENTRIES_PER_CALL = 16;
export const HISTORY_MAX_RESULTS = 20_000;
/** BatchPutAssetPropertyValue accepts timestamps in [now − 7 days, now + 10 minutes]. */
export const PAST_WINDOW_MS = 7 * 86_400_000;
export const FUTURE_WINDOW_MS = 10 * 60_000;
