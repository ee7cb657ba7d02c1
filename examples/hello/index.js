// A sample OpenWhisk action for the semirt runtime. It greets, and shows the per-activation
// context that stays correct when many activations run at once in one container.
//
//   wsk action create hello examples/hello/index.js --docker <registry>/semirt-runtime --concurrency 50
//   wsk action invoke hello --result --param name Ada

const { activation } = require('semirt');

async function main(params) {
  const context = activation();
  // Simulated I/O: other activations run meanwhile, and each still sees its own context.
  await new Promise((resolve) => setTimeout(resolve, Number(params.delayMs ?? 0)));
  return {
    greeting: `Hello, ${params.name ?? 'stranger'}!`,
    activationId: context?.activationId,
    remainingMs: context === undefined ? undefined : Math.max(0, context.deadline - Date.now()),
  };
}

module.exports.main = main;
