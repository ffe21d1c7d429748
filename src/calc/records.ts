// The records calc reads (written by the agent). Defined, with their decoders, in the api
// (src/api/records.ts); re-exported here for calc's users.
export {
  KIND_NODE,
  KIND_ATTACHMENT,
  attachmentName,
  type NodeRecord,
  type AttachmentRecord,
} from '../api/records.js';
