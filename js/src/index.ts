// @volleynet/client: a TypeScript client for Volley game hosts. See docs/protocol.md
// in the Volley repository for the wire contract this package implements.

export { ClockSync, type ClockEstimate } from "./clock.js";
export { VolleyError, errorOfBye, errorOfRefusal, type ErrorCode } from "./errors.js";
export { InterpBuffer } from "./interp.js";
export { LobbyClient, type LobbyEvent, type ListOptions, type LobbyOptions, type RoomFilter, type RoomInfo, type RoomOptions, type RoomPage, type Signal, type Signaler, type WebSocketConstructor } from "./lobby.js";
export { EntityType, Schema, SCHEMA_VERSION, canonicalJSON, type EntityValues, type FieldDescriptor, type FieldKind, type SchemaDescriptor, type TypeDescriptor } from "./schema.js";
export { Session, checkWelcome, connect, type ConnectOptions, type DropReason, type RTCImplementation, type SnapshotInfo, type Stats } from "./session.js";
export { sha256, hex } from "./sha256.js";
export {
  Decoder,
  HISTORY,
  MAX_DECODER_ENTITIES,
  SnapshotError,
  World,
  dequantize,
  type Ack,
  type Entity,
  type PacketInfo,
  type SnapshotErrorCode,
} from "./snapshot.js";
export {
  Kind,
  LABEL_RELIABLE,
  LABEL_UNRELIABLE,
  MAX_INPUT_BYTES,
  MAX_UNRELIABLE_BYTES,
  PROTOCOL_VERSION,
  decodeCopies,
  decodeMsgpack,
  decodePong,
  decodeSnapshot,
  encodeCopies,
  encodeMessage,
  encodePing,
  encodeUpdate,
  type Bye,
  type Copies,
  type InputMsg,
  type Ping,
  type Pong,
  type SnapshotMsg,
  type Welcome,
} from "./wire.js";
