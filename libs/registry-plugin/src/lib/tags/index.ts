export { isValidTag, validateTag, MAX_TAG_LENGTH, TAG_PATTERN } from './grammar';
export { planTags, sanitizeBranch, formatDateTag, type TagPlan, type TagPlanKind, type PlanTagsInput } from './strategy';
