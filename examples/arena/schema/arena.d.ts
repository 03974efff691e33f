// Code generated from a Volley snapshot schema; DO NOT EDIT.
// Schema fingerprint ef6a378dec95c033 (descriptor version 1).
// Type declarations only: the JS client dequantizes entities into these shapes.

/** PlayerEntity: entity type 1. */
export interface PlayerEntity {
  /** float in [-1, 65], step 0.01 */
  X: number;
  /** float in [-1, 37], step 0.01 */
  Y: number;
  /** angle in radians [-π, π), 10 bits */
  Aim: number;
  /** int in [0, 100] */
  Health: number;
  /** int in [0, 65535] */
  Kills: number;
  /** int in [0, 65535] */
  Deaths: number;
  /** bool */
  Alive: boolean;
  /** int in [0, 255]; a change is a teleport */
  Spawn: number;
  /** int in [0, 31] */
  Respawn: number;
}

/** ProjectileEntity: entity type 2. */
export interface ProjectileEntity {
  /** float in [-1, 65], step 0.01 */
  X: number;
  /** float in [-1, 37], step 0.01 */
  Y: number;
  /** int in [0, 1048575] */
  Owner: number;
}

/** Entity type IDs and their shapes. */
export interface EntityTypes {
  1: PlayerEntity;
  2: ProjectileEntity;
}

/** The fingerprint of this schema, as hosts announce it. */
export type Fingerprint = "ef6a378dec95c033";
