import { Command } from "commander";
export const benchOnlineCommand = new Command("online").description("TODO");
