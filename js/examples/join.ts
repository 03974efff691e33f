import { LobbyClient, Schema, connect } from "@volleynet/client";

// The game's schema (the arena serves its own at /js/schema.json).
const schema = Schema.parse(await (await fetch("http://localhost:8080/js/schema.json")).text());
const lobby = await LobbyClient.connect("ws://localhost:8080/ws");
await lobby.quickJoin();
const session = await connect({ schema, signaler: lobby.hostSignaler(), iceServers: lobby.iceServers });
console.log(`client ${session.id}: host ticks at ${session.tickRate} Hz, snapshots at ${session.sendRate} Hz`);

session.onSnapshot((info) => {
  const world = session.latest()!.world;
  console.log(`tick ${info.tick}: ${world.size} entities`);
  world.forEach((id, type) => console.log(id, schema.type(type)?.name, world.read(id)));
});
session.onEvent((event) => console.log("event", event));
session.send({ name: "js-example" }); // a command: reliable, exactly once, in order

const reason = await session.closed;
console.log(`session ended: ${reason.code} (${reason.message})`);
lobby.close();
