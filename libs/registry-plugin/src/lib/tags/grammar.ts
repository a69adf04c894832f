// The tag grammar is the distribution protocol's; its one home is the registry layer.
export { isValidTag, validateTag, MAX_TAG_LENGTH, TAG_PATTERN } from '../registry/tag-grammar';
